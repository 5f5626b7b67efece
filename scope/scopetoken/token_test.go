package scopetoken_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
)

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func traceCtx(id byte) context.Context {
	var tid trace.TraceID
	tid[0], tid[1], tid[15] = id, 0xab, 1
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	return trace.ContextWithRemoteSpanContext(context.Background(), sc)
}

func keyring(t testing.TB, active string, keys map[string][]byte, opts ...scopetoken.Option) *scopetoken.Keyring {
	t.Helper()
	k, err := scopetoken.NewKeyring(active, keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// resign replaces the MAC of token with one made with key.
func resign(token string, key []byte) string {
	signed := token[:strings.LastIndexByte(token, '.')]
	h := hmac.New(sha256.New, key)
	h.Write([]byte("tenantshield-propagation-token\x00" + signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// field replaces field i of token.
func field(token string, i int, v string) string {
	f := strings.Split(token, ".")
	f[i] = v
	return strings.Join(f, ".")
}

func TestVerify(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{t: start}
	signer := keyring(t, "k1", map[string][]byte{"k1": key1}, scopetoken.WithClock(clk.now))
	verifier := keyring(t, "k2", map[string][]byte{"k1": key1, "k2": key2}, scopetoken.WithClock(clk.now))
	other := keyring(t, "k1", map[string][]byte{"k1": key2}, scopetoken.WithClock(clk.now))
	longTTL := keyring(t, "k1", map[string][]byte{"k1": key1}, scopetoken.WithClock(clk.now), scopetoken.WithTTL(time.Minute))
	ctx := traceCtx(1)
	acme := scope.MustParse("acme")
	tok, err := signer.Sign(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	long, _ := longTTL.Sign(ctx, acme)
	forged, _ := other.Sign(ctx, acme)
	badTenant := resign(field(tok, 2, base64.RawURLEncoding.EncodeToString([]byte("bad tenant"))), key1)

	tests := []struct {
		name  string
		token string
		ctx   context.Context
		at    time.Duration // clock offset from start
		want  error         // nil: accepted
	}{
		{name: "valid", token: tok, ctx: ctx},
		{name: "valid at the expiry", token: tok, ctx: ctx, at: scopetoken.DefaultTTL},
		{name: "valid within the leeway", token: tok, ctx: ctx, at: scopetoken.DefaultTTL + scopetoken.DefaultLeeway},
		{name: "expired (replayed after expiry)", token: tok, ctx: ctx, at: scopetoken.DefaultTTL + scopetoken.DefaultLeeway + time.Second, want: scopetoken.ErrExpired},
		{name: "another trace", token: tok, ctx: traceCtx(2), want: scopetoken.ErrTraceMismatch},
		{name: "no trace", token: tok, ctx: context.Background(), want: scopetoken.ErrTraceMismatch},
		{name: "forged (signed with a key of the same id)", token: forged, ctx: ctx, want: scopetoken.ErrBadSignature},
		{name: "unknown key id", token: field(tok, 1, "k9"), ctx: ctx, want: scopetoken.ErrUnknownKey},
		{name: "tenant changed", token: field(tok, 2, base64.RawURLEncoding.EncodeToString([]byte("globex"))), ctx: ctx, want: scopetoken.ErrBadSignature},
		{name: "expiry extended", token: field(tok, 4, strconv.FormatInt(start.Add(time.Hour).Unix(), 10)), ctx: ctx, want: scopetoken.ErrBadSignature},
		{name: "trace changed", token: field(tok, 3, strings.Repeat("ab", 16)), ctx: ctx, want: scopetoken.ErrBadSignature},
		{name: "validity beyond the verifier's TTL", token: long, ctx: ctx, want: scopetoken.ErrLifetime},
		{name: "signed invalid tenant", token: badTenant, ctx: ctx, want: scopetoken.ErrInvalidTenant},
		{name: "empty", token: "", ctx: ctx, want: scopetoken.ErrMalformed},
		{name: "oversized", token: tok + strings.Repeat("A", 64<<10), ctx: ctx, want: scopetoken.ErrTooLarge},
		{name: "version", token: field(tok, 0, "v2"), ctx: ctx, want: scopetoken.ErrMalformed},
		{name: "extra field", token: tok + ".x", ctx: ctx, want: scopetoken.ErrMalformed},
		{name: "padded tenant", token: field(tok, 2, base64.URLEncoding.EncodeToString([]byte("acme"))), ctx: ctx, want: scopetoken.ErrMalformed},
		{name: "upper-case trace", token: field(tok, 3, strings.ToUpper(ctx2hex(ctx))), ctx: ctx, want: scopetoken.ErrMalformed},
		{name: "zero trace", token: field(tok, 3, strings.Repeat("0", 32)), ctx: ctx, want: scopetoken.ErrMalformed},
		{name: "leading zero expiry", token: field(tok, 4, "0"+strconv.FormatInt(start.Unix(), 10)), ctx: ctx, want: scopetoken.ErrMalformed},
		{name: "short mac", token: field(tok, 5, "AAAA"), ctx: ctx, want: scopetoken.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.t = start.Add(tt.at)
			defer func() { clk.t = start }()
			got, err := verifier.Verify(tt.ctx, tt.token)
			if tt.want == nil {
				if err != nil || got != acme {
					t.Fatalf("Verify = %q, %v; want acme", got, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, scopetoken.ErrInvalid) || !got.IsZero() {
				t.Fatalf("Verify = %q, %v; want %v", got, err, tt.want)
			}
			var te *scopetoken.Error
			if !errors.As(err, &te) || te.ErrorType() == "token.invalid" || strings.Contains(err.Error(), tt.token[:min(len(tt.token), 20)]) && tt.token != "" {
				t.Fatalf("error %v (%T): want a *Error with a specific type and no token in the message", err, err)
			}
		})
	}
}

func ctx2hex(ctx context.Context) string { return trace.SpanContextFromContext(ctx).TraceID().String() }

func TestSign(t *testing.T) {
	k := keyring(t, "k1", map[string][]byte{"k1": key1})
	if _, err := k.Sign(context.Background(), scope.MustParse("acme")); !errors.Is(err, scopetoken.ErrNoTrace) {
		t.Fatalf("Sign without a trace: %v", err)
	}
	if _, err := k.Sign(traceCtx(1), scope.Tenant{}); !errors.Is(err, scope.ErrInvalidTenant) {
		t.Fatalf("Sign a zero tenant: %v", err)
	}
	tok, err := k.Sign(traceCtx(1), scope.MustParse("acme"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := scopetoken.Parse(tok)
	if err != nil || c.KeyID != "k1" || c.Tenant != "acme" || c.TraceID != trace.SpanContextFromContext(traceCtx(1)).TraceID() {
		t.Fatalf("Parse(%q) = %+v, %v", tok, c, err)
	}
	if d := time.Until(c.Expiry); d > scopetoken.DefaultTTL || d < scopetoken.DefaultTTL-time.Minute {
		t.Fatalf("expiry %v is not about DefaultTTL from now", c.Expiry)
	}
	if len(tok) > 160 {
		t.Fatalf("token of %d bytes is not compact", len(tok))
	}
}

// TestRotation: a verifier that knows the old and the new key accepts
// tokens of signers on either side of the rotation; one that dropped the old
// key refuses the old signer's tokens.
func TestRotation(t *testing.T) {
	ctx := traceCtx(3)
	oldSigner := keyring(t, "2025", map[string][]byte{"2025": key1})
	newSigner := keyring(t, "2026", map[string][]byte{"2025": key1, "2026": key2})
	both := keyring(t, "2026", map[string][]byte{"2025": key1, "2026": key2})
	onlyNew := keyring(t, "2026", map[string][]byte{"2026": key2})
	for _, s := range []*scopetoken.Keyring{oldSigner, newSigner} {
		tok, err := s.Sign(ctx, scope.MustParse("acme"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := both.Verify(ctx, tok); err != nil {
			t.Fatalf("signer %s: %v", s.ActiveKeyID(), err)
		}
		_, err = onlyNew.Verify(ctx, tok)
		if s == oldSigner != errors.Is(err, scopetoken.ErrUnknownKey) {
			t.Fatalf("signer %s, verifier without the old key: %v", s.ActiveKeyID(), err)
		}
	}
}

func TestNewKeyring(t *testing.T) {
	for _, tt := range []struct {
		name   string
		active string
		keys   map[string][]byte
		opts   []scopetoken.Option
		want   string
	}{
		{"no keys", "k", nil, nil, "not among the keys"},
		{"short secret", "k", map[string][]byte{"k": []byte("short")}, nil, "at least 32"},
		{"bad key id", "k.1", map[string][]byte{"k.1": key1}, nil, "key id"},
		{"long key id", strings.Repeat("k", 33), map[string][]byte{strings.Repeat("k", 33): key1}, nil, "key id"},
		{"active missing", "k2", map[string][]byte{"k1": key1}, nil, "not among the keys"},
		{"ttl too long", "k", map[string][]byte{"k": key1}, []scopetoken.Option{scopetoken.WithTTL(time.Hour)}, "longer than"},
		{"ttl zero", "k", map[string][]byte{"k": key1}, []scopetoken.Option{scopetoken.WithTTL(0)}, "positive"},
		{"leeway negative", "k", map[string][]byte{"k": key1}, []scopetoken.Option{scopetoken.WithLeeway(-time.Second)}, "leeway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scopetoken.NewKeyring(tt.active, tt.keys, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewKeyring: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// The secrets are copied.
	secret := append([]byte(nil), key1...)
	k := keyring(t, "k", map[string][]byte{"k": secret})
	tok, _ := k.Sign(traceCtx(1), scope.MustParse("acme"))
	secret[0] ^= 0xff
	if _, err := k.Verify(traceCtx(1), tok); err != nil {
		t.Fatalf("changing the caller's slice changed the keyring: %v", err)
	}
}
