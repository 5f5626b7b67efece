package otelobs

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// cell counts the measurements of one attribute combination; an observable
// counter reports n with opts at each collection.
type cell struct {
	n    atomic.Int64
	opts []metric.ObserveOption
}

func newCell(kvs []attribute.KeyValue) *cell {
	return &cell{opts: []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}}
}

// maxCached bounds a cache (below the SDK's default cardinality limit, 2000,
// so that its own overflow never applies): past it, a new attribute combination is
// recorded under its overflow combination (values replaced by _OTHER).
const maxCached = 1024

// cache maps attribute combinations to what is recorded for them, built
// once. A lookup takes one atomic load and a map lookup and never blocks; a
// new combination copies the map (they are few, and each is added once).
type cache[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

func (c *cache[K, V]) get(k K, build func(K) V, overflow func(K) K) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	return c.add(k, build, overflow)
}

func (c *cache[K, V]) add(k K, build func(K) V, overflow func(K) K) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]V
	if p := c.m.Load(); p != nil {
		old = *p
	}
	if v, ok := old[k]; ok {
		return v
	}
	if len(old) >= maxCached {
		k = overflow(k) // overflow combinations are few: they may exceed the bound
		if v, ok := old[k]; ok {
			return v
		}
	}
	v := build(k)
	next := make(map[K]V, len(old)+1)
	for k2, v2 := range old {
		next[k2] = v2
	}
	next[k] = v
	c.m.Store(&next)
	return v
}

// each calls f for every value.
func (c *cache[K, V]) each(f func(V)) {
	if p := c.m.Load(); p != nil {
		for _, v := range *p {
			f(v)
		}
	}
}

// tenantCap admits the first max distinct tenants as tenant.id values and
// maps every other tenant to OtherTenant. A nil *tenantCap maps every
// tenant to "" (no attribute).
type tenantCap struct {
	max  int
	seen atomic.Pointer[map[string]struct{}]
	mu   sync.Mutex
}

func (c *tenantCap) value(tenant string) string {
	if c == nil || tenant == "" {
		return ""
	}
	if s := c.seen.Load(); s != nil {
		if _, ok := (*s)[tenant]; ok {
			return tenant
		}
		if len(*s) >= c.max {
			return OtherTenant
		}
	}
	return c.admit(tenant)
}

func (c *tenantCap) admit(tenant string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[string]struct{}
	if p := c.seen.Load(); p != nil {
		old = *p
	}
	if _, ok := old[tenant]; ok {
		return tenant
	}
	if len(old) >= c.max {
		return OtherTenant
	}
	next := make(map[string]struct{}, len(old)+1)
	for t := range old {
		next[t] = struct{}{}
	}
	next[tenant] = struct{}{}
	c.seen.Store(&next)
	return tenant
}
