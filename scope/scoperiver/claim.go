package scoperiver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MetadataKey is the key of River's job metadata under which the middleware
// stores a job's tenant claim. A value set there by the caller (through
// river.InsertOpts.Metadata) is overwritten at insert.
const MetadataKey = "tenantshield"

// claimVersion is the version of the claim layout and of the tagged message.
const claimVersion = 1

// tagDomain separates this package's HMAC messages from any other use of the
// same key.
const tagDomain = "tenantshield/scoperiver/v1"

// Modes of a claim: the job runs for a tenant, or under an explicit bypass.
const (
	modeTenant = "tenant"
	modeBypass = "bypass"
)

// claim is what the middleware stores in a job's metadata under
// MetadataKey: exactly one of Tenant and Bypass, the id of the key that
// tagged it and the tag, an HMAC-SHA256 over the mode, the tenant (or the
// bypass reason), the job kind and the job's arguments in canonical form.
type claim struct {
	V      int    `json:"v"`
	Tenant string `json:"tenant,omitempty"`
	Bypass string `json:"bypass,omitempty"`
	KeyID  string `json:"kid"`
	Tag    string `json:"tag"`
}

func (c claim) mode() (string, string) {
	if c.Bypass != "" {
		return modeBypass, c.Bypass
	}
	return modeTenant, c.Tenant
}

// Key is one HMAC key of a [Keyring]: an id stored with every tag it makes,
// so that a tag names the key that verifies it, and the secret.
type Key struct {
	ID     string
	Secret []byte
}

// MinSecretLen is the shortest secret a [Key] may have, in bytes (the output
// size of SHA-256).
const MinSecretLen = 32

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// Keyring holds the keys that tag and verify job claims. The signing key
// tags every job inserted; it and the other keys verify. To rotate, deploy
// the new key as a verify-only key everywhere, then make it the signing key,
// then drop the old one once no job it tagged is left in the queue.
type Keyring struct {
	signing string
	keys    map[string][]byte
}

// NewKeyring returns a keyring that tags with signing and verifies with
// signing and the others. Key ids must be 1 to 64 letters, digits, '.', '_',
// ':' or '-' and distinct; secrets must be at least [MinSecretLen] bytes.
// The secrets are copied. Errors match [ErrInvalidKeyring].
func NewKeyring(signing Key, others ...Key) (*Keyring, error) {
	kr := &Keyring{signing: signing.ID, keys: make(map[string][]byte, 1+len(others))}
	for _, k := range append([]Key{signing}, others...) {
		switch {
		case !keyIDPattern.MatchString(k.ID):
			return nil, fmt.Errorf("%w: key id %q must be 1 to 64 letters, digits, '.', '_', ':' or '-'", ErrInvalidKeyring, k.ID)
		case len(k.Secret) < MinSecretLen:
			return nil, fmt.Errorf("%w: the secret of key %q has %d bytes, at least %d are needed", ErrInvalidKeyring, k.ID, len(k.Secret), MinSecretLen)
		}
		if _, dup := kr.keys[k.ID]; dup {
			return nil, fmt.Errorf("%w: key id %q appears twice", ErrInvalidKeyring, k.ID)
		}
		kr.keys[k.ID] = slices.Clone(k.Secret)
	}
	return kr, nil
}

// SigningKeyID returns the id of the key that tags new jobs.
func (kr *Keyring) SigningKeyID() string { return kr.signing }

// sign returns the claim of a job of kind with encoded arguments args, for
// mode and value, tagged with the signing key.
func (kr *Keyring) sign(mode, value, kind string, args []byte) (claim, error) {
	if !utf8.ValidString(value) {
		// JSON would store it altered, and the claim would not verify.
		return claim{}, fmt.Errorf("%w: the %s is not valid UTF-8", ErrMalformedClaim, mode)
	}
	canon, err := canonicalJSON(args)
	if err != nil {
		return claim{}, err
	}
	c := claim{V: claimVersion, KeyID: kr.signing}
	if mode == modeBypass {
		c.Bypass = value
	} else {
		c.Tenant = value
	}
	c.Tag = base64.RawURLEncoding.EncodeToString(tag(kr.keys[kr.signing], mode, value, kind, canon))
	return c, nil
}

// verify checks c's tag for a job of kind with encoded arguments args.
func (kr *Keyring) verify(c claim, kind string, args []byte) error {
	secret, ok := kr.keys[c.KeyID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownKey, c.KeyID)
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(c.Tag)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: the tag is not a base64url HMAC-SHA256", ErrTagMismatch)
	}
	canon, err := canonicalJSON(args)
	if err != nil {
		return err
	}
	mode, value := c.mode()
	if !hmac.Equal(got, tag(secret, mode, value, kind, canon)) {
		return fmt.Errorf("%w: the job's tenant, kind or arguments are not those it was enqueued with", ErrTagMismatch)
	}
	return nil
}

// tag is the HMAC-SHA256 of the length-prefixed fields, so that no two
// different field lists make the same message.
func tag(secret []byte, fields ...any) []byte {
	mac := hmac.New(sha256.New, secret)
	var n [8]byte
	for _, f := range append([]any{tagDomain}, fields...) {
		var b []byte
		switch v := f.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		mac.Write(n[:])
		mac.Write(b)
	}
	return mac.Sum(nil)
}

// parseClaim reads the claim stored in a job's metadata. A job without one
// gets [ErrNoClaim]; one that is not a well-formed claim gets
// [ErrMalformedClaim].
func parseClaim(metadata []byte) (claim, error) {
	var md map[string]json.RawMessage
	if err := json.Unmarshal(metadata, &md); err != nil {
		return claim{}, fmt.Errorf("%w: the job's metadata is not a JSON object", ErrMalformedClaim)
	}
	raw, ok := md[MetadataKey]
	if !ok || string(raw) == "null" {
		return claim{}, ErrNoClaim
	}
	var c claim
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return claim{}, fmt.Errorf("%w: %q is not a claim object", ErrMalformedClaim, MetadataKey)
	}
	switch {
	case c.V != claimVersion:
		return claim{}, fmt.Errorf("%w: version %d, want %d", ErrMalformedClaim, c.V, claimVersion)
	case (c.Tenant == "") == (c.Bypass == ""):
		return claim{}, fmt.Errorf("%w: it must name exactly one of a tenant and a bypass reason", ErrMalformedClaim)
	case c.KeyID == "" || c.Tag == "":
		return claim{}, fmt.Errorf("%w: it has no key id or no tag", ErrMalformedClaim)
	}
	return c, nil
}

// withClaim returns metadata (a JSON object, or empty for {}) with c stored
// under MetadataKey, replacing whatever was there.
func withClaim(metadata []byte, c claim) ([]byte, error) {
	md := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(metadata)) > 0 {
		if err := json.Unmarshal(metadata, &md); err != nil || md == nil {
			return nil, errors.New("the job's metadata (river.InsertOpts.Metadata) must be a JSON object")
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	md[MetadataKey] = b
	return json.Marshal(md)
}

// maxNumberLen bounds the text of one number in job arguments and
// maxExponent its decimal exponent. PostgreSQL writes jsonb numbers without
// exponent, so 1e999 comes back as 1000 characters: the length allows that.
const (
	maxNumberLen = 4096
	maxExponent  = 1000
)

// canonicalJSON returns a canonical form of the JSON value b: object keys
// sorted, no insignificant space, numbers in one spelling per value and
// strings re-escaped; the result is JSON. River stores arguments as PostgreSQL jsonb, which
// reorders keys, drops space and rewrites numbers (1e2 becomes 100), so the
// arguments read back by the worker differ in bytes from those the inserter
// encoded; their canonical forms are equal. Errors match [ErrMalformedArgs].
func canonicalJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedArgs, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON value", ErrMalformedArgs)
	}
	var out bytes.Buffer
	if err := writeCanonical(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeCanonical(out *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(x))
	case json.Number:
		s, err := canonicalNumber(string(x))
		if err != nil {
			return err
		}
		out.WriteString(s)
	case string:
		b, _ := json.Marshal(x) // a string always marshals
		out.Write(b)
	case []any:
		out.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeCanonical(out, e); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				out.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			out.Write(b)
			out.WriteByte(':')
			if err := writeCanonical(out, x[k]); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	default:
		return fmt.Errorf("%w: unexpected %T", ErrMalformedArgs, v)
	}
	return nil
}

// canonicalNumber writes the JSON number s (valid JSON syntax) in one
// spelling per value: the significant digits without leading or trailing
// zeros and a decimal exponent when it is not 0 (1.50, 1.5 and 15e-1 are
// all "15e-1", 100 and 1e2 are "1e2", -0 is "0"). It is itself JSON.
func canonicalNumber(s string) (string, error) {
	if len(s) > maxNumberLen {
		return "", fmt.Errorf("%w: a number of %d characters", ErrMalformedArgs, len(s))
	}
	neg := strings.HasPrefix(s, "-")
	mant, exp := strings.TrimPrefix(s, "-"), 0
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(mant[i+1:], "+"))
		if err != nil || e > maxExponent || e < -maxExponent {
			return "", fmt.Errorf("%w: the exponent of %.40q is out of range", ErrMalformedArgs, s)
		}
		mant, exp = mant[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	if digits == "" {
		return "0", nil
	}
	sig := strings.TrimRight(digits, "0")
	exp += len(digits) - len(sig)
	if exp != 0 {
		sig += "e" + strconv.Itoa(exp)
	}
	if neg {
		sig = "-" + sig
	}
	return sig, nil
}
