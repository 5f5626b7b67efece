package otelobs

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// Instrument names of the metric path: a contract, like the span names.
// The audit delivery instruments are registered by
// auditotlp.RegisterMetrics; their names are listed here with the others.
const (
	MetricDecisions     = telemetry.MetricDecisions     // Int64Counter, {decision}
	MetricGuardDuration = telemetry.MetricGuardDuration // Float64Histogram, s
	MetricRejections    = telemetry.MetricRejections    // Int64Counter, {request}

	MetricAuditEmitted   = telemetry.MetricAuditEmitted   // Int64ObservableCounter, {record}
	MetricAuditExported  = telemetry.MetricAuditExported  // Int64ObservableCounter, {record}
	MetricAuditFailed    = telemetry.MetricAuditFailed    // Int64ObservableCounter, {record}
	MetricAuditDropped   = telemetry.MetricAuditDropped   // Int64ObservableCounter, {record}
	MetricAuditRetries   = telemetry.MetricAuditRetries   // Int64ObservableCounter, {export}
	MetricAuditQueueSize = telemetry.MetricAuditQueueSize // Int64ObservableUpDownCounter, {record}
)

// Attribute keys used only on metrics (the others are the Attr* keys of the
// trace path: tenant.decision, tenant.id, db.*, http.response.status_code).
const (
	AttrRejectionReason = telemetry.RejectionReason // tenant.rejection.reason
	AttrAuditQueue      = telemetry.AuditQueue      // audit.queue: "memory" or "spool"
)

// Outcome is what enforcement decided about a statement: the value of
// tenant.decision on [MetricDecisions], the same value the trace path sets
// on the guard's span.
type Outcome uint8

// The outcomes.
const (
	OutcomeScoped   Outcome = iota + 1 // verified (and possibly rescoped): it runs
	OutcomeBlocked                     // refused before it reached the database
	OutcomeReported                    // would have been blocked or denied; report-only mode let it run
	OutcomeBypassed                    // ran unscoped under an explicit bypass
	OutcomeDenied                      // refused by a policy
)

var outcomeNames = [...]string{"", "scoped", "blocked", "reported", "bypassed", "denied"}

// String returns the attribute value ("scoped", "blocked", ...), or "" for
// an unknown outcome.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return ""
}

// Rejection reasons: the values of tenant.rejection.reason on
// [MetricRejections], one per problem type of package scopehttp.
const (
	RejectionMissingTenant    = "missing_tenant"    // the request names no tenant
	RejectionInvalidTenant    = "invalid_tenant"    // an invalid tenant id, or a strategy that failed
	RejectionInvalidToken     = "invalid_token"     // a forged, expired or malformed bearer token
	RejectionTenantConflict   = "tenant_conflict"   // two different tenants in one request
	RejectionTenantForbidden  = "tenant_forbidden"  // a policy denied the tenant
	RejectionAuditUnavailable = "audit_unavailable" // the blocking audit mode could not record the request
)

// OtherTenant is the tenant.id of the decisions of tenants beyond the cap
// of [WithTenantAttribute]. It follows the semantic conventions' "_OTHER"
// for values outside a known set.
const OtherTenant = "_OTHER"

// MaxTenantAttribute is the largest cap [WithTenantAttribute] accepts. Each
// tenant multiplies the series of [MetricDecisions] (by outcome, operation
// and table); a Metrics keeps at most 1024 attribute combinations per
// instrument, below the SDK's default cardinality limit (2000), and counts
// further ones under db.collection.name and tenant.id _OTHER.
const MaxTenantAttribute = 500

// guardBuckets are the explicit bucket boundaries (seconds) advised for
// [MetricGuardDuration]: the guard decides in microseconds (a cached verdict
// in about one, a parse in tens), so the SDK's default boundaries, which
// start at 5 ms, would put every measurement in the first bucket.
var guardBuckets = []float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005,
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
}

// GuardDurationBuckets returns the bucket boundaries, in seconds, that
// [MetricGuardDuration] advises (1 µs to 10 ms).
func GuardDurationBuckets() []float64 { return slices.Clone(guardBuckets) }

// DefaultGuardDurationSampling is how many decisions [MetricGuardDuration]
// samples one of, unless [WithGuardDurationSampling] says otherwise.
const DefaultGuardDurationSampling = 16

// Metrics records TenantShield's metrics when its gate is on: the decisions
// of the guard ([MetricDecisions]), the time it takes to make them
// ([MetricGuardDuration]) and the requests the HTTP middleware refuses
// ([MetricRejections]). It is safe for concurrent use; a nil *Metrics is
// valid and always off.
//
// When the gate is off a Record method costs one atomic load and allocates
// nothing. When it is on nothing is allocated either: decisions and
// rejections are counted in atomic cells, one per attribute combination
// (built once), which observable counters report at each collection; the
// guard's duration is measured for one decision in
// [DefaultGuardDurationSampling] (reading the clock costs as much as the
// rest together) and recorded on a histogram with a prebuilt attribute set.
type Metrics struct {
	enabled  atomic.Bool
	duration metric.Float64Histogram
	sampling uint32     // measure one decision in sampling
	tenants  *tenantCap // nil: no tenant.id attribute

	decisions  cache[DecisionAttributes, *cell]
	rejections cache[rejectionKey, *cell]
	durations  cache[durationKey, []metric.RecordOption]
}

type metricsConfig struct {
	mp         metric.MeterProvider
	enabled    bool
	maxTenants int
	sampling   int
}

// MetricsOption configures [NewMetrics].
type MetricsOption interface{ applyMetrics(*metricsConfig) }

type metricsOptionFunc func(*metricsConfig)

func (f metricsOptionFunc) applyMetrics(c *metricsConfig) { f(c) }

// WithMeterProvider sets the MeterProvider. A nil provider is ignored, and
// the global MeterProvider is used.
func WithMeterProvider(mp metric.MeterProvider) MetricsOption {
	return metricsOptionFunc(func(c *metricsConfig) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// WithMetricsEnabled sets the initial state of the gate (default: off).
func WithMetricsEnabled(on bool) MetricsOption {
	return metricsOptionFunc(func(c *metricsConfig) { c.enabled = on })
}

// WithTenantAttribute adds tenant.id to [MetricDecisions] for the first n
// distinct tenants it sees; the decisions of every later tenant carry
// tenant.id [OtherTenant]. Off by default: one series per tenant is what
// makes a metrics backend expensive. n is capped at [MaxTenantAttribute];
// n <= 0 leaves the attribute off.
func WithTenantAttribute(n int) MetricsOption {
	return metricsOptionFunc(func(c *metricsConfig) { c.maxTenants = min(n, MaxTenantAttribute) })
}

// WithGuardDurationSampling makes [MetricGuardDuration] measure one decision
// in n, chosen at random (default [DefaultGuardDurationSampling]; 1
// measures every decision, at the cost of two clock reads and a histogram
// measurement per statement). The histogram's distribution is that of all
// decisions; its count is not their number: [MetricDecisions] counts them.
// n < 1 is taken as 1.
func WithGuardDurationSampling(n int) MetricsOption {
	return metricsOptionFunc(func(c *metricsConfig) { c.sampling = max(n, 1) })
}

// NewMetrics returns a Metrics. Without [WithMeterProvider] it uses the
// provider otel.GetMeterProvider returns when NewMetrics is called (before
// one is installed, OTel's delegating provider, which forwards to the first
// provider installed later). An instrument the provider refuses is reported
// through otel.Handle and left out.
func NewMetrics(opts ...MetricsOption) *Metrics {
	c := metricsConfig{sampling: DefaultGuardDurationSampling}
	for _, o := range opts {
		o.applyMetrics(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	meter := c.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version()))
	m := &Metrics{sampling: uint32(min(c.sampling, 1<<16))}
	decisions, err1 := meter.Int64ObservableCounter(MetricDecisions, metric.WithUnit("{decision}"),
		metric.WithDescription("Enforcement decisions on statements that name a tenant-owned table, by outcome (tenant.decision)."))
	rejections, err2 := meter.Int64ObservableCounter(MetricRejections, metric.WithUnit("{request}"),
		metric.WithDescription("Requests the tenant middleware refused, by reason (tenant.rejection.reason)."))
	var err3 error
	m.duration, err3 = meter.Float64Histogram(MetricGuardDuration, metric.WithUnit("s"),
		metric.WithDescription("Time the guard spends deciding one statement (sampled)."),
		metric.WithExplicitBucketBoundaries(guardBuckets...))
	if err3 != nil {
		m.duration = noop.Float64Histogram{}
	}
	var err4 error
	if err1 == nil && err2 == nil {
		_, err4 = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			m.decisions.each(func(c *cell) { o.ObserveInt64(decisions, c.n.Load(), c.opts...) })
			m.rejections.each(func(c *cell) { o.ObserveInt64(rejections, c.n.Load(), c.opts...) })
			return nil
		}, decisions, rejections)
	}
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		otel.Handle(err)
	}
	if c.maxTenants > 0 {
		m.tenants = &tenantCap{max: c.maxTenants}
	}
	m.enabled.Store(c.enabled)
	return m
}

var defaultMetrics = NewMetrics()

// DefaultMetrics returns the process-wide Metrics (global MeterProvider, off
// until [ConfigureMetrics] turns it on) that TenantShield's packages use
// unless given one.
func DefaultMetrics() *Metrics { return defaultMetrics }

// ConfigureMetrics turns the default Metrics' gate on or off. It is a gate
// of its own: [Configure] (traces) does not touch it.
func ConfigureMetrics(enabled bool) { defaultMetrics.SetEnabled(enabled) }

// SetEnabled turns the gate on or off. It takes effect for the next call.
func (m *Metrics) SetEnabled(on bool) { m.enabled.Store(on) }

// Enabled reports whether the gate is on.
func (m *Metrics) Enabled() bool { return m != nil && m.enabled.Load() }

// DecisionAttributes are the attributes of one decision on
// [MetricDecisions]. Empty strings are left out.
type DecisionAttributes struct {
	Outcome   Outcome // tenant.decision
	System    string  // db.system.name
	Operation string  // db.operation.name
	Table     string  // db.collection.name: leave it empty for a statement on several tables
	Tenant    string  // tenant.id, recorded only with WithTenantAttribute
}

// RecordDecision adds one to [MetricDecisions] with a's attributes, if the
// gate is on.
func (m *Metrics) RecordDecision(_ context.Context, a DecisionAttributes) {
	if m != nil && m.enabled.Load() {
		m.recordDecision(&a)
	}
}

func (m *Metrics) recordDecision(a *DecisionAttributes) {
	k := *a
	k.Tenant = m.tenants.value(a.Tenant)
	m.decisions.get(k, decisionCell, decisionOverflow).n.Add(1)
}

func decisionCell(k DecisionAttributes) *cell {
	var buf [5]attribute.KeyValue
	kvs := append(buf[:0], AttrDecision.String(k.Outcome.String()))
	kvs = appendNonEmpty(kvs, AttrDBSystem, k.System)
	kvs = appendNonEmpty(kvs, AttrDBOperation, k.Operation)
	kvs = appendNonEmpty(kvs, AttrDBCollection, k.Table)
	kvs = appendNonEmpty(kvs, AttrTenantID, k.Tenant)
	return newCell(kvs)
}

// decisionOverflow is the combination a new one is counted under once the
// cache is full: its table (and tenant) become _OTHER.
func decisionOverflow(k DecisionAttributes) DecisionAttributes {
	k.Table = OtherTenant
	if k.Tenant != "" {
		k.Tenant = OtherTenant
	}
	return k
}

// GuardTimer measures one decision for [MetricGuardDuration]. The zero
// value measures nothing.
type GuardTimer struct {
	m     *Metrics
	start time.Time
}

// StartGuard starts measuring a decision, if the gate is on and the
// decision is sampled (see [WithGuardDurationSampling]).
func (m *Metrics) StartGuard() GuardTimer {
	if m == nil || !m.enabled.Load() {
		return GuardTimer{}
	}
	return m.startGuard()
}

func (m *Metrics) startGuard() GuardTimer {
	if m.sampling > 1 && rand.Uint32N(m.sampling) != 0 {
		return GuardTimer{}
	}
	return GuardTimer{m: m, start: time.Now()}
}

// Stop records the time since StartGuard on [MetricGuardDuration], with
// db.system.name and db.operation.name (left out when empty).
func (t GuardTimer) Stop(ctx context.Context, system, operation string) {
	if t.m != nil {
		t.m.RecordGuardDuration(ctx, time.Since(t.start), system, operation)
	}
}

type durationKey struct{ system, operation string }

// RecordGuardDuration records d on [MetricGuardDuration], in seconds, with
// db.system.name and db.operation.name (left out when empty), if the gate
// is on. It is not sampled: [Metrics.StartGuard] is.
func (m *Metrics) RecordGuardDuration(ctx context.Context, d time.Duration, system, operation string) {
	if m != nil && m.enabled.Load() {
		m.duration.Record(ctx, d.Seconds(), m.durations.get(durationKey{system, operation}, durationOpts, durationOverflow)...)
	}
}

func durationOpts(k durationKey) []metric.RecordOption {
	var buf [2]attribute.KeyValue
	kvs := appendNonEmpty(buf[:0], AttrDBSystem, k.system)
	kvs = appendNonEmpty(kvs, AttrDBOperation, k.operation)
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

func durationOverflow(k durationKey) durationKey { return durationKey{k.system, OtherTenant} }

type rejectionKey struct {
	reason string
	status int
}

// RecordRejection adds one to [MetricRejections] with tenant.rejection.reason
// reason (one of the Rejection* values) and http.response.status_code status
// (left out when 0), if the gate is on.
func (m *Metrics) RecordRejection(_ context.Context, reason string, status int) {
	if m != nil && m.enabled.Load() {
		m.rejections.get(rejectionKey{reason, status}, rejectionCell, rejectionOverflow).n.Add(1)
	}
}

func rejectionCell(k rejectionKey) *cell {
	var buf [2]attribute.KeyValue
	kvs := append(buf[:0], AttrRejectionReason.String(k.reason))
	if k.status != 0 {
		kvs = append(kvs, AttrHTTPStatusCode.Int(k.status))
	}
	return newCell(kvs)
}

func rejectionOverflow(k rejectionKey) rejectionKey { return rejectionKey{OtherTenant, k.status} }

func appendNonEmpty(kvs []attribute.KeyValue, k attribute.Key, v string) []attribute.KeyValue {
	if v == "" {
		return kvs
	}
	return append(kvs, k.String(v))
}
