package auditlog

import (
	"context"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// Request is who and what a unit of work serves, for the records made
// inside it: the bus adds it to every record emitted with a context that
// carries it (scopehttp's middleware binds it for each request).
type Request struct {
	Actor         string // the authenticated end user (a JWT's sub): enduser.id
	ClientAddress string // the client's address: client.address
	Method        string // http.request.method
	Route         string // the matched route pattern, not the raw path: http.route
}

// Attribute keys of the request attributes of a record.
const (
	AttrActor         = telemetry.EnduserID
	AttrClientAddress = telemetry.ClientAddress
	AttrHTTPMethod    = telemetry.HTTPMethod
	AttrHTTPRoute     = telemetry.HTTPRoute
)

type requestKey struct{}

// WithRequest returns a copy of ctx carrying r.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFromContext returns the Request ctx carries.
func RequestFromContext(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}

// addTo returns attrs with r's non-empty fields added, except those attrs
// already has, in a new slice (attrs belongs to the emitter).
func (r Request) addTo(attrs []attribute.KeyValue) []attribute.KeyValue {
	var add [4]attribute.KeyValue
	n := 0
	for _, kv := range [...]struct {
		k attribute.Key
		v string
	}{{AttrActor, r.Actor}, {AttrClientAddress, r.ClientAddress}, {AttrHTTPMethod, r.Method}, {AttrHTTPRoute, r.Route}} {
		if kv.v == "" {
			continue
		}
		has := false
		for _, a := range attrs {
			has = has || a.Key == kv.k
		}
		if !has {
			add[n] = kv.k.String(kv.v)
			n++
		}
	}
	if n == 0 {
		return attrs
	}
	out := make([]attribute.KeyValue, 0, len(attrs)+n)
	return append(append(out, attrs...), add[:n]...)
}
