package scopetoken_test

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

func mustTenant(id string) scope.Tenant { return scope.MustParse(id) }

// The caller signs the bound tenant for its trace; the next service verifies
// the token in the same trace, and refuses it in any other.
func Example() {
	keys := map[string][]byte{"2026-01": []byte("a secret of at least 32 random bytes!")}
	ring, err := scopetoken.NewKeyring("2026-01", keys)
	if err != nil {
		panic(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	token, err := ring.Sign(ctx, scope.MustParse("acme"))
	if err != nil {
		panic(err)
	}
	t, err := ring.Verify(ctx, token)
	fmt.Println("same trace:", t, err)

	_, err = ring.Verify(context.Background(), token)
	fmt.Println("no trace:", errors.Is(err, scopetoken.ErrTraceMismatch))
	_, err = ring.Verify(ctx, token[:len(token)-2]+"AA")
	fmt.Println("tampered:", errors.Is(err, scopetoken.ErrInvalid))
	// Output:
	// same trace: acme <nil>
	// no trace: true
	// tampered: true
}
