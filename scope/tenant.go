package scope

import (
	"regexp"
	"strconv"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Tenant is a validated tenant identifier. The zero value means "no tenant".
// Tenants are comparable with ==.
type Tenant struct {
	id string
}

// String returns the identifier.
func (t Tenant) String() string { return t.id }

// IsZero reports whether t is the zero Tenant.
func (t Tenant) IsZero() bool { return t.id == "" }

// Limits of tenant identifiers.
const (
	// DefaultMaxLength is the default maximum length in bytes.
	DefaultMaxLength = 64
	// HardMaxLength is the largest MaxLength a Validator accepts.
	HardMaxLength = 256
)

// Validator checks tenant identifiers. Whatever the configuration, an
// identifier must be non-empty valid UTF-8 of at most MaxLength bytes, without
// whitespace, control or invisible format characters (such as zero-width or
// bidirectional overrides). Then, with a nil Pattern, it must consist of ASCII
// letters, digits, '.', '_', ':' and '-', starting with a letter or digit;
// with a Pattern, it must match it (anchor the pattern with ^ and $).
//
// The zero Validator applies the defaults. A Validator must not be changed
// after first use.
type Validator struct {
	MaxLength int            // 0 means DefaultMaxLength; capped at HardMaxLength
	Pattern   *regexp.Regexp // nil means the default character set
}

var defaultValidator atomic.Pointer[Validator]

func init() { defaultValidator.Store(&Validator{}) }

// SetDefaultValidator replaces the validator used by [Parse] and by the
// middleware. A nil v restores the defaults.
func SetDefaultValidator(v *Validator) {
	if v == nil {
		v = &Validator{}
	}
	defaultValidator.Store(v)
}

// DefaultValidator returns the validator used by [Parse].
func DefaultValidator() *Validator { return defaultValidator.Load() }

// Parse validates id with the default validator.
func Parse(id string) (Tenant, error) { return defaultValidator.Load().Parse(id) }

// MustParse is like [Parse] but panics on an invalid id. Use it for constants.
func MustParse(id string) Tenant {
	t, err := Parse(id)
	if err != nil {
		panic(err)
	}
	return t
}

// Parse validates id and returns it as a Tenant, or an [*InvalidTenantError]
// (matching [ErrInvalidTenant]) that says what is wrong.
func (v *Validator) Parse(id string) (Tenant, error) {
	if reason := v.check(id); reason != "" {
		return Tenant{}, &InvalidTenantError{ID: display(id), Reason: reason}
	}
	return Tenant{id: id}, nil
}

func (v *Validator) maxLength() int {
	n := v.MaxLength
	if n <= 0 {
		n = DefaultMaxLength
	}
	if n > HardMaxLength {
		n = HardMaxLength
	}
	return n
}

const charsetHelp = "ASCII letters, digits, '.', '_', ':' and '-', starting with a letter or digit"

func (v *Validator) check(id string) string {
	if id == "" {
		return "it is empty"
	}
	if limit := v.maxLength(); len(id) > limit {
		return "it is " + strconv.Itoa(len(id)) + " bytes long; the limit is " + strconv.Itoa(limit)
	}
	if v.Pattern == nil {
		// Fast path for the default charset: ASCII only, so the generic
		// Unicode checks below are implied.
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			case i > 0 && (c == '.' || c == '_' || c == ':' || c == '-'):
			case i == 0 && (c == '.' || c == '_' || c == ':' || c == '-'):
				return "it must start with a letter or digit"
			default:
				r, size := utf8.DecodeRuneInString(id[i:])
				if reason := runeReason(r, size, i); reason != "" {
					return reason
				}
				return "it contains " + strconv.QuoteRuneToASCII(r) + " at byte " + strconv.Itoa(i) + "; allowed: " + charsetHelp
			}
		}
		return ""
	}
	for i := 0; i < len(id); {
		r, size := utf8.DecodeRuneInString(id[i:])
		if reason := runeReason(r, size, i); reason != "" {
			return reason
		}
		i += size
	}
	if !v.Pattern.MatchString(id) {
		return "it does not match the allowed pattern " + v.Pattern.String()
	}
	return ""
}

// runeReason says why the rune r (of size bytes, at byte i) can never be
// part of a tenant id, whatever the pattern: invalid UTF-8, whitespace,
// control or invisible format characters. It returns "" for other runes.
func runeReason(r rune, size, i int) string {
	switch {
	case r == utf8.RuneError && size <= 1:
		return "it is not valid UTF-8 at byte " + strconv.Itoa(i)
	case unicode.IsSpace(r):
		return "it contains whitespace " + strconv.QuoteRuneToASCII(r) + " at byte " + strconv.Itoa(i)
	case unicode.IsControl(r):
		return "it contains a control character " + strconv.QuoteRuneToASCII(r) + " at byte " + strconv.Itoa(i)
	case unicode.Is(unicode.Cf, r):
		return "it contains an invisible format character " + strconv.QuoteRuneToASCII(r) + " at byte " + strconv.Itoa(i)
	}
	return ""
}

// display quotes a possibly hostile id for an error message, truncated so a
// huge input cannot flood logs.
func display(id string) string {
	const limit = 80
	if len(id) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(id[cut]) {
			cut--
		}
		return strconv.QuoteToASCII(id[:cut]) + "..."
	}
	return strconv.QuoteToASCII(id)
}
