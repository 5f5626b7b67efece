package scopehttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// Middleware tests: the response path (panics, server errors, streaming and
// http.ResponseController).

func TestMiddlewarePanic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	boom := errors.New("boom")
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(boom) })
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Tenant-Id", "acme")

	func() {
		defer func() {
			if r := recover(); r != any(boom) { // the panic value itself propagates
				t.Fatalf("recovered %v, want the handler's panic value", r)
			}
		}()
		h.serverSpan(mw.Wrap(app)).ServeHTTP(httptest.NewRecorder(), req)
	}()

	// The SDK adds its own "exception" event when the span ends while
	// panicking, as otelhttp's span would.
	if got := h.eventNames(t, "GET /orders"); !slices.Equal(got[:min(4, len(got))], []string{evBound, evEntered, evExcept, evUnbound}) {
		t.Fatalf("server span events %v", got)
	}
	span := h.ended("GET /orders")[0]
	if et, _ := eventAttr(span, evExcept, "error.type"); et != "panic" {
		t.Fatalf("exception error.type %q", et)
	}
	if et, _ := eventAttr(span, evUnbound, "error.type"); et != "panic" {
		t.Fatalf("request_unbound error.type %q", et)
	}
	released := h.sink.Events(auditlog.ContextReleased)
	if len(released) != 1 || released[0].Outcome != auditlog.OutcomeFailure || !strings.Contains(released[0].Reason, "boom") {
		t.Fatalf("released %+v", released)
	}
}

// In a real server, net/http recovers the panic; the binding still ends with
// a failure.
func TestMiddlewarePanicInServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	srv := httptest.NewUnstartedServer(mw.Wrap(app))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Tenant-Id", "acme")
	resp, err := srv.Client().Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("got a response (%s) from a panicking handler", resp.Status)
	}
	srv.Close() // waits for the handler to finish
	released := h.sink.Events(auditlog.ContextReleased)
	if len(released) != 1 || released[0].Outcome != auditlog.OutcomeFailure {
		t.Fatalf("released %+v", released)
	}
	if v, _ := released[0].Attr("error.type"); v.AsString() != "panic" {
		t.Fatalf("error.type %q", v.AsString())
	}
}

func TestMiddlewareServerError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusEarlyHints) // informational: not the outcome
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Tenant-Id", "acme")
	h.serverSpan(mw.Wrap(app)).ServeHTTP(httptest.NewRecorder(), req)

	if got := h.eventNames(t, "GET /orders"); !slices.Equal(got, []string{evBound, evEntered, evExcept, evUnbound}) {
		t.Fatalf("server span events %v", got)
	}
	span := h.ended("GET /orders")[0]
	if et, _ := eventAttr(span, evExcept, "error.type"); et != "503" {
		t.Fatalf("exception error.type %q", et)
	}
	released := h.sink.Events(auditlog.ContextReleased)
	if len(released) != 1 || released[0].Outcome != auditlog.OutcomeFailure || !strings.Contains(released[0].Reason, "503 Service Unavailable") {
		t.Fatalf("released %+v", released)
	}
	// A 4xx from the handler is not a failure of the unit of work.
	h.sink.Reset()
	app = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	mw.Wrap(app).ServeHTTP(httptest.NewRecorder(), req)
	if released := h.sink.Events(auditlog.ContextReleased); len(released) != 1 || released[0].Outcome != auditlog.OutcomeSuccess {
		t.Fatalf("released after 404 %+v", released)
	}
}

func TestMiddlewareStreaming(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "paths on", false: "paths off"}[on], func(t *testing.T) {
			t.Parallel()
			testStreaming(t, on)
		})
	}
}

// testStreaming checks a flushed response streams, with the paths on (the
// writer is wrapped) or off (it is not).
func testStreaming(t *testing.T, on bool) {
	h := newHarness(t, on, on)
	next := make(chan struct{})
	handlerCtx := make(chan context.Context, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerCtx <- r.Context()
		w.Header().Set("Content-Type", "text/plain")
		for i := range 3 {
			tn, err := scope.Require(r.Context())
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.WriteString(w, tn.String()+"\n")
			if i%2 == 0 {
				w.(http.Flusher).Flush() // the type assertion libraries use
			} else if err := http.NewResponseController(w).Flush(); err != nil {
				t.Error(err)
				return
			}
			if i < 2 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
		}
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	srv := httptest.NewServer(mw.Wrap(app))
	defer srv.Close()

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Tenant-Id", "acme")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		// Each line arrives while the handler is blocked: it was flushed.
		line, err := br.ReadString('\n')
		if err != nil || line != "acme\n" {
			t.Fatalf("line %d: %q, %v", i, line, err)
		}
		if i < 2 {
			next <- struct{}{}
		}
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("trailing %q", rest)
	}
	ctx := <-handlerCtx
	srv.Close() // waits for the handler
	// The handler's context ended with the request, and the binding ended.
	if ctx.Err() == nil {
		t.Fatal("the handler's context is still live")
	}
	if !on {
		return
	}
	if got := h.auditTypes(); !slices.Equal(got, []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased}) {
		t.Fatalf("audit %v", got)
	}
	if got := h.eventNames(t, otelobs.SpanScope); !slices.Equal(got, []string{evBound, evEntered, evExited, evUnbound}) {
		t.Fatalf("span events %v", got)
	}
}

// http.ResponseController reaches the server's writer through Unwrap
// (deadlines), and Hijack works on HTTP/1.
func TestMiddlewareResponseController(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		if r.URL.Path == "/hijack" {
			conn, brw, err := rc.Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer func() { _ = conn.Close() }()
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
			_ = brw.Flush()
			return
		}
		n, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("copied")}) // through io.ReaderFrom
		if err != nil || n != 6 {
			t.Errorf("io.Copy: %d, %v", n, err)
		}
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	// httptest.Server.Close does not wait for hijacked connections' handlers.
	hijackDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw.Wrap(app).ServeHTTP(w, r)
		if r.URL.Path == "/hijack" {
			close(hijackDone)
		}
	}))
	defer srv.Close()
	for path, want := range map[string]string{"/": "copied", "/hijack": "hi"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Tenant-Id", "acme")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(body) != want {
			t.Fatalf("%s: body %q", path, body)
		}
	}
	srv.Close()
	<-hijackDone
	if got := h.sink.Events(auditlog.ContextReleased); len(got) != 2 || got[0].Outcome != auditlog.OutcomeSuccess || got[1].Outcome != auditlog.OutcomeSuccess {
		t.Fatalf("released %+v", got)
	}
}
