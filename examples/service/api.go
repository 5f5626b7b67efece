package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// Invoice is tenant-owned. The handlers below never mention the tenant:
// bunhook scopes every query to the tenant the middleware bound.
type Invoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement" json:"id"`
	TenantID string `bun:",notnull" json:"tenant_id"`
	Number   string `bun:",notnull" json:"number"`
	Amount   int64  `bun:",notnull" json:"amount"`
}

// invoicePatch is the body of PATCH /invoices/{id}. A tenant_id in it asks to
// move the invoice to another tenant, which enforcement refuses.
type invoicePatch struct {
	Number   *string `json:"number"`
	Amount   *int64  `json:"amount"`
	TenantID *string `json:"tenant_id"`
}

func api(db *bun.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /invoices", func(w http.ResponseWriter, r *http.Request) {
		var invs []Invoice
		n, err := db.NewSelect().Model(&invs).Order("invoice.id").Limit(100).ScanAndCount(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		if invs == nil {
			invs = []Invoice{}
		}
		reply(w, http.StatusOK, map[string]any{"total": n, "invoices": invs})
	})
	mux.HandleFunc("GET /invoices/{id}", func(w http.ResponseWriter, r *http.Request) {
		inv, ok := byID(w, r)
		if !ok {
			return
		}
		if err := db.NewSelect().Model(inv).WherePK().Scan(r.Context()); err != nil {
			fail(w, r, err)
			return
		}
		reply(w, http.StatusOK, inv)
	})
	mux.HandleFunc("POST /invoices", func(w http.ResponseWriter, r *http.Request) {
		var inv Invoice
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&inv); err != nil {
			problem(w, http.StatusBadRequest, "", "the body is not a JSON invoice")
			return
		}
		inv.ID = 0
		if _, err := db.NewInsert().Model(&inv).Exec(r.Context()); err != nil { // tenant_id filled, or a foreign one refused
			fail(w, r, err)
			return
		}
		reply(w, http.StatusCreated, inv)
	})
	mux.HandleFunc("PATCH /invoices/{id}", func(w http.ResponseWriter, r *http.Request) {
		inv, ok := byID(w, r)
		if !ok {
			return
		}
		var p invoicePatch
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&p); err != nil {
			problem(w, http.StatusBadRequest, "", "the body is not a JSON invoice patch")
			return
		}
		q := db.NewUpdate().Model((*Invoice)(nil)).Where("id = ?", inv.ID)
		if p.Number != nil {
			q.Set("number = ?", *p.Number)
		}
		if p.Amount != nil {
			q.Set("amount = ?", *p.Amount)
		}
		if p.TenantID != nil {
			q.Set("tenant_id = ?", *p.TenantID)
		}
		if p.Number == nil && p.Amount == nil && p.TenantID == nil {
			problem(w, http.StatusBadRequest, "", "the patch changes nothing")
			return
		}
		res, err := q.Exec(r.Context())
		noContent(w, r, res, err)
	})
	mux.HandleFunc("DELETE /invoices/{id}", func(w http.ResponseWriter, r *http.Request) {
		inv, ok := byID(w, r)
		if !ok {
			return
		}
		res, err := db.NewDelete().Model(inv).WherePK().Exec(r.Context())
		noContent(w, r, res, err)
	})
	return mux
}

// noContent answers an UPDATE or DELETE of one invoice: 204 when it changed
// a row, 404 when none was visible to the tenant, the error's status else.
func noContent(w http.ResponseWriter, r *http.Request, res sql.Result, err error) {
	if err != nil {
		fail(w, r, err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		fail(w, r, sql.ErrNoRows)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func byID(w http.ResponseWriter, r *http.Request) (*Invoice, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem(w, http.StatusBadRequest, "", "the invoice id is not a positive integer")
		return nil, false
	}
	return &Invoice{ID: id}, true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail maps errors to statuses: another tenant's object is indistinguishable
// from a missing one (404); a refused cross-tenant write is 403. Every
// error is an RFC 9457 problem whose detail is fixed text: the error's own
// message names tables, columns and tenants, which a client must not see
// (it is in the audit record and the trace, under the request's trace id).
func fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		problem(w, http.StatusNotFound, "", "")
	case errors.Is(err, scope.ErrCrossTenant), errors.Is(err, scope.ErrPolicyDenied):
		problem(w, http.StatusForbidden, problemCrossTenant, "the request would read or change another tenant's data")
	case errors.Is(err, scope.ErrNoTenant), errors.Is(err, scope.ErrUnscopedQuery):
		problem(w, http.StatusBadRequest, "", "the request cannot be served within its tenant")
	default:
		slog.ErrorContext(r.Context(), "request failed", "err", err)
		problem(w, http.StatusInternalServerError, "", "")
	}
}

// problemCrossTenant is the type of a refused cross-tenant access; other
// errors have no type of their own ("about:blank": the status says it).
const problemCrossTenant = "https://tenantshield.dev/problems/cross-tenant"

// problem writes an RFC 9457 problem+json body: typ "" is about:blank, whose
// title is the status text; detail is fixed text, never an error message.
func problem(w http.ResponseWriter, status int, typ, detail string) {
	p := scopehttp.Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
	if typ == problemCrossTenant {
		p.Type, p.Title = typ, "Cross-tenant access refused"
	}
	body, _ := json.Marshal(p) // strings and an int: cannot fail
	h := w.Header()
	h.Set("Content-Type", scopehttp.ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serverSpans starts an HTTP server span per request (continuing an incoming
// W3C trace context), as otelhttp would; the tenant middleware decorates it.
func serverSpans(next http.Handler) http.Handler {
	tracer := otel.Tracer("github.com/tenantshield/tenantshield-go/examples/service")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" "+routeOf(r), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if sc := span.SpanContext(); sc.IsValid() {
			// W3C Trace Context Level 2: the trace a client can look up.
			w.Header().Set("traceresponse", "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-"+sc.TraceFlags().String())
		}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

func routeOf(r *http.Request) string {
	if len(r.URL.Path) > len("/invoices/") && r.URL.Path[:len("/invoices/")] == "/invoices/" {
		return "/invoices/{id}"
	}
	return r.URL.Path
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
