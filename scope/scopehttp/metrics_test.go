package scopehttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/otelobs/metrictest"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// TestMetricsRejectionReasons: every kind of refused request is counted on
// tenantshield.middleware.rejections with its reason and status, once; an
// accepted request is not counted; nothing is counted with the gate off.
func TestMetricsRejectionReasons(t *testing.T) {
	t.Parallel()
	keys(t)
	header := func(t testing.TB) scopehttp.Strategy { return mustHeader(t, scopehttp.HeaderConfig{}) }
	headerOrToken := func(t testing.TB) scopehttp.Strategy {
		return scopehttp.NewConsistentChain(mustHeader(t, scopehttp.HeaderConfig{}), mustJWT(t, hsConfig()))
	}
	blockingAudit := func() scopehttp.Option {
		bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
		bus.Register(blockingSink{})
		return scopehttp.WithBinder(scope.NewBinder(scope.WithAuditBus(bus)))
	}
	tests := []struct {
		name     string
		strategy func(t testing.TB) scopehttp.Strategy
		opts     []scopehttp.Option
		headers  map[string]string
		reason   string
		status   int
	}{
		{name: "no tenant", strategy: header, reason: otelobs.RejectionMissingTenant, status: 400},
		{name: "token without tenant", strategy: headerOrToken,
			headers: map[string]string{"Authorization": "Bearer " + hs(t, claims(nil, nil))},
			reason:  otelobs.RejectionMissingTenant, status: 401},
		{name: "invalid tenant", strategy: header, headers: map[string]string{"X-Tenant-Id": "bad id"},
			reason: otelobs.RejectionInvalidTenant, status: 400},
		{name: "forged token", strategy: headerOrToken,
			headers: map[string]string{"Authorization": "Bearer " + sign(t, jwtHS256, otherHMAC, claims("acme", nil))},
			reason:  otelobs.RejectionInvalidToken, status: 401},
		{name: "header and token disagree", strategy: headerOrToken,
			headers: map[string]string{"X-Tenant-Id": "globex", "Authorization": "Bearer " + hs(t, claims("acme", nil))},
			reason:  otelobs.RejectionTenantConflict, status: 400},
		{name: "policy deny", strategy: header, headers: map[string]string{"X-Tenant-Id": "acme"},
			opts:   []scopehttp.Option{scopehttp.WithPolicy(scope.AllowTables("http:/public"))},
			reason: otelobs.RejectionTenantForbidden, status: 403},
		{name: "audit unavailable", strategy: header, headers: map[string]string{"X-Tenant-Id": "acme"},
			opts:   []scopehttp.Option{blockingAudit()},
			reason: otelobs.RejectionAuditUnavailable, status: 503},
		{name: "accepted", strategy: header, headers: map[string]string{"X-Tenant-Id": "acme"}, status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, on := range []bool{true, false} {
				mp, rd := metrictest.New(t)
				m := otelobs.NewMetrics(otelobs.WithMeterProvider(mp), otelobs.WithMetricsEnabled(on))
				mw := scopehttp.New(tc.strategy(t), append([]scopehttp.Option{scopehttp.WithMetrics(m)}, tc.opts...)...)
				h := mw.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				r := httptest.NewRequest(http.MethodGet, "/orders", nil)
				for k, v := range tc.headers {
					r.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
				snap := rd.Collect()
				total := snap.Sum(otelobs.MetricRejections)
				switch {
				case !on || tc.reason == "":
					if total != 0 {
						t.Errorf("gate on %v: %d rejections counted, want 0", on, total)
					}
				default:
					got := snap.Sum(otelobs.MetricRejections, otelobs.AttrRejectionReason.String(tc.reason),
						otelobs.AttrHTTPStatusCode.Int(tc.status))
					if got != 1 || total != 1 {
						t.Errorf("%s %d counted %d times (%d rejections in all), want once", tc.reason, tc.status, got, total)
					}
				}
			}
		})
	}
}
