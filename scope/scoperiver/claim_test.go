package scoperiver_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

// TestCanonicalJSON: what PostgreSQL's jsonb does to stored arguments (key
// order, space, number spelling) leaves the canonical form unchanged; a
// changed value changes it.
func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"key order and space", `{"b":1,"a":[true,null,"x"]}`, `{"a": [true, null, "x"], "b": 1}`, true},
		{"number spelling", `{"n":100,"f":1.5}`, `{"n":1e2,"f":1.50}`, true},
		{"negative exponent", `[0.015]`, `[15e-3]`, true},
		{"escapes", `["\u00e9\/"]`, `["é/"]`, true},
		{"nested", `{"o":{"z":1,"y":{"x":[1,2]}}}`, `{"o":{"y":{"x":[1,2]},"z":1}}`, true},
		{"other value", `{"seq":1}`, `{"seq":2}`, false},
		{"other key", `{"seq":1}`, `{"sEq":1}`, false},
		{"array order", `[1,2]`, `[2,1]`, false},
		{"number and string", `[1]`, `["1"]`, false},
		{"precision kept", `[0.1]`, `[0.10000000000000001]`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ca, err := scoperiver.CanonicalJSON([]byte(tc.a))
			if err != nil {
				t.Fatal(err)
			}
			cb, err := scoperiver.CanonicalJSON([]byte(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(ca, cb) != tc.same {
				t.Fatalf("canonical forms %s and %s: equal = %v, want %v", ca, cb, !tc.same, tc.same)
			}
		})
	}
	for _, bad := range []string{``, `{`, `{"a":1} {}`, `[1e1001]`, `[1e-1001]`, `["` + string([]byte{0xff}) + `"`} {
		if _, err := scoperiver.CanonicalJSON([]byte(bad)); !errors.Is(err, scoperiver.ErrMalformedArgs) {
			t.Errorf("CanonicalJSON(%q) = %v, want ErrMalformedArgs", bad, err)
		}
	}
}

// FuzzClaim feeds arbitrary metadata and arguments to the claim parser and
// the canonical form: they never panic, the canonical form is a fixed point,
// and a claim verifies only for the arguments it was made for.
func FuzzClaim(f *testing.F) {
	kr, err := scoperiver.NewKeyring(scoperiver.Key{ID: "k1", Secret: secret(1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"tenantshield":{"v":1,"tenant":"acme","kid":"k1","tag":"AAAA"}}`), []byte(`{"seq":1}`), "acme")
	f.Add([]byte(`{}`), []byte(`[1e2, 1.50, "x"]`), "globex")
	f.Add([]byte(`{"tenantshield":{"v":1,"bypass":"r","kid":"k1","tag":""}}`), []byte(`{"a":{"b":[null,true]}}`), "")
	f.Fuzz(func(t *testing.T, md, args []byte, tenant string) {
		_ = scoperiver.ParseClaim(md)
		_, _ = scoperiver.Verify(kr, md, "kind", args)
		canon, err := scoperiver.CanonicalJSON(args)
		if err != nil {
			return
		}
		again, err := scoperiver.CanonicalJSON(canon)
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("canonical form %s is not a fixed point: %s, %v", canon, again, err)
		}
		if tenant == "" {
			return
		}
		signed, err := scoperiver.SignedMetadata(kr, tenant, false, "kind", args)
		if err != nil {
			if utf8.ValidString(tenant) || !errors.Is(err, scoperiver.ErrMalformedClaim) {
				t.Fatalf("signing canonicalisable args: %v", err)
			}
			return
		}
		if got, err := scoperiver.Verify(kr, signed, "kind", canon); err != nil || got != tenant {
			t.Fatalf("the claim does not verify for its own (canonical) args: %q, %v", got, err)
		}
		if _, err := scoperiver.Verify(kr, signed, "other", args); !errors.Is(err, scoperiver.ErrTagMismatch) {
			t.Fatalf("the claim verified for another kind: %v", err)
		}
		if !bytes.Equal(canon, []byte("null")) {
			if _, err := scoperiver.Verify(kr, signed, "kind", []byte("null")); !errors.Is(err, scoperiver.ErrTagMismatch) {
				t.Fatalf("the claim verified for other args: %v", err)
			}
		}
	})
}

func TestBoundedID(t *testing.T) {
	for in, want := range map[string]string{
		"acme":                  "acme",
		"":                      "",
		"a\nFAKE":               `"a\nFAKE"`,
		strings.Repeat("x", 81): `"` + strings.Repeat("x", 80) + `"...`,
		"caf\u00e9":             `"caf\u00e9"`,
		strings.Repeat("é", 50): `"` + strings.Repeat(`\u00e9`, 40) + `"...`,
	} {
		if got := scoperiver.BoundedID(in); got != want {
			t.Errorf("BoundedID(%q) = %s, want %s", in, got, want)
		}
	}
}
