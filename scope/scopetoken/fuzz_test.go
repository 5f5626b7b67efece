package scopetoken_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

// FuzzParse: Parse never panics, every failure is a *Error matching
// ErrInvalid, and what it accepts is canonical: the fields it returns encode
// back to exactly the input, so no two spellings of one token exist.
func FuzzParse(f *testing.F) {
	k, err := scopetoken.NewKeyring("k1", map[string][]byte{"k1": key1})
	if err != nil {
		f.Fatal(err)
	}
	tok, err := k.Sign(traceCtx(1), mustTenant("acme"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok, "", ".....", "v1.k1.YWNtZQ.0102.1.x", tok + ".", strings.Replace(tok, "v1", "v2", 1),
		strings.Repeat("a", scopetoken.MaxTokenBytes+1), "v1.k1.YWNtZQ==." + strings.Repeat("0", 32) + ".1." + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := scopetoken.Parse(s)
		if err != nil {
			var te *scopetoken.Error
			if !errors.As(err, &te) || !errors.Is(err, scopetoken.ErrInvalid) {
				t.Fatalf("Parse(%q): %v (%T) is not a *Error matching ErrInvalid", s, err, err)
			}
			return
		}
		if len(s) > scopetoken.MaxTokenBytes {
			t.Fatalf("Parse accepted %d bytes", len(s))
		}
		mac := s[strings.LastIndexByte(s, '.')+1:]
		re := strings.Join([]string{scopetoken.Version, c.KeyID, base64.RawURLEncoding.EncodeToString([]byte(c.Tenant)),
			c.TraceID.String(), strconv.FormatInt(c.Expiry.Unix(), 10), mac}, ".")
		if re != s {
			t.Fatalf("Parse(%q) accepted a non-canonical token (re-encoded: %q)", s, re)
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(mac); err != nil {
			t.Fatalf("Parse(%q) accepted a bad MAC field", s)
		}
		// Verification with a key that did not sign it fails.
		if _, err := k.Verify(traceCtx(1), s); err == nil && s != tok {
			t.Fatalf("Verify accepted %q, a token the key did not sign", s)
		}
	})
}
