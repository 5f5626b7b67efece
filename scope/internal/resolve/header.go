package resolve

import (
	"net/textproto"
	"strconv"
	"strings"

	"github.com/tenantshield/tenantshield-go/scope"
)

// Field names a request field in the two spellings the carriers use: the
// canonical HTTP form (X-Tenant-Id) and the lower-case form of gRPC metadata
// and HTTP/2 (x-tenant-id).
type Field struct {
	Canonical string
	Lower     string
}

// NewField returns the Field named name, or an error when name is not a
// valid HTTP field name (an RFC 9110 token).
func NewField(name string) (Field, error) {
	if !ValidFieldName(name) {
		return Field{}, &fieldNameError{name}
	}
	return Field{Canonical: textproto.CanonicalMIMEHeaderKey(name), Lower: strings.ToLower(name)}, nil
}

type fieldNameError struct{ name string }

func (e *fieldNameError) Error() string {
	return "header name " + strconv.QuoteToASCII(e.name) + " is not a valid HTTP field name"
}

// Header resolves the tenant from the single value of a field.
type Header struct {
	Field Field
	Desc  string           // "header X-Tenant-Id", "metadata x-tenant-id"
	V     *scope.Validator // nil: scope's default validator at each call
}

// Parse returns the tenant named by vals, the field's values: ErrNotApplicable
// when there are none, an [*Error] (ClassInvalidTenant) when there are several
// or the value is invalid.
func (h *Header) Parse(vals []string) (scope.Tenant, error) {
	switch len(vals) {
	case 0:
		return scope.Tenant{}, ErrNotApplicable
	case 1:
	default:
		return scope.Tenant{}, &Error{
			Strategy: h.Desc, Class: ClassInvalidTenant,
			Reason: h.Desc + " was sent " + strconv.Itoa(len(vals)) + " times; send it once",
		}
	}
	return ParseTenant(h.V, vals[0], h.Desc, h.Desc)
}

// ValidFieldName reports whether s is an RFC 9110 token.
func ValidFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!', c == '#', c == '$', c == '%', c == '&', c == '\'', c == '*', c == '+', c == '-', c == '.',
			c == '^', c == '_', c == '`', c == '|', c == '~':
		default:
			return false
		}
	}
	return true
}
