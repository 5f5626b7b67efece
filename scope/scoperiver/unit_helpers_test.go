package scoperiver_test

import (
	"bytes"
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	acme    = scope.MustParse("acme")
	globex  = scope.MustParse("globex")
	initech = scope.MustParse("initech")
	umbrell = scope.MustParse("umbrella")
	tenants = []scope.Tenant{acme, globex, initech, umbrell}
)

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, scoperiver.MinSecretLen) }

func keyring(t testing.TB, id string, b byte) *scoperiver.Keyring {
	t.Helper()
	kr, err := scoperiver.NewKeyring(scoperiver.Key{ID: id, Secret: secret(b)})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// audit is a binder reporting to a private bus with a memory sink.
type audit struct {
	bus    *auditlog.Bus
	sink   *auditlog.MemorySink
	binder *scope.Binder
}

func newAudit(t testing.TB) *audit {
	t.Helper()
	a := &audit{
		bus:  auditlog.NewBus(auditlog.WithErrorHandler(func(err error) { t.Errorf("unexpected sink failure: %v", err) })),
		sink: auditlog.NewMemorySink(),
	}
	a.bus.Register(a.sink)
	a.binder = scope.NewBinder(scope.WithAuditBus(a.bus))
	return a
}

func newMiddleware(t testing.TB, kr *scoperiver.Keyring, a *audit) *scoperiver.Middleware {
	t.Helper()
	mw, err := scoperiver.NewMiddleware(kr, scoperiver.WithBinder(a.binder))
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func attrOf(e auditlog.Event, key string) string {
	for _, kv := range e.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}
