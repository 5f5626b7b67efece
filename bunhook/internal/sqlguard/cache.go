package sqlguard

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// The verdict cache. bun writes argument values into the SQL text, so the
// statements of one call site differ only in their literals: a point select
// by id is a new text for every id. The guard's verdict on a statement does
// not depend on the value of any integer literal: no rule reads a number
// (the tenant is only ever compared with string literals, see isTenantLit;
// LIMIT, ORDER BY 1, IN (1, 2) and arithmetic are verified alike whatever
// their numbers). Check therefore keys a verified statement by the bound
// tenant and its text with every standalone unsigned integer literal
// replaced by a marker, and a statement with the same key gets the same
// verdict without being parsed again. A verdict is stored only when every
// masked literal is exactly one number token of the parsed statement
// (marksAreNumbers): the scan below only has to find candidates, and a
// candidate that the lexer reads otherwise (digits in a name such as 0ae+1,
// or in a PostgreSQL quoted name after a backtick, which the scan takes for
// a quote) keeps the statement out of the cache.
//
// The key is exact text otherwise, so everything else that decides the
// verdict (names, quotes, strings such as the tenant literal, operators,
// keywords, the number and place of the literals) is compared byte for
// byte. Text the key's scan cannot delimit as the lexer does is never
// cached: comments, backslashes (escapes in MySQL strings and PostgreSQL
// E'' strings), control characters other than tab and newlines (the marker
// that stands for a literal is one), and, outside quotes, '$' (dollar
// quotes and parameters), '[' (SQLite's bracket quotes), '#' and non-ASCII
// bytes. Only verified statements are cached, so a refused one is parsed
// every time and gets its full finding; statements longer than
// maxCachedLen (bulk INSERTs, each different) are not cached. Each Guard
// has its own cache, so registering a table (which builds a new Guard)
// starts an empty one.

const (
	// cacheSlots is the number of entries (a power of two): a direct-mapped
	// table, so two keys that share a slot take turns.
	cacheSlots = 4096
	// maxCachedLen is the longest statement text that is cached.
	maxCachedLen = 4096
	// numMark stands for an integer literal in a key; bytes below 0x20
	// other than tab and newlines are never cached, so it is unambiguous.
	numMark = 0x01
)

type verdictCache struct {
	seed  maphash.Seed
	slots [cacheSlots]atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	key string
	v   Verdict
}

func newVerdictCache() *verdictCache { return &verdictCache{seed: maphash.MakeSeed()} }

func (vc *verdictCache) slot(key []byte) *atomic.Pointer[cacheEntry] {
	return &vc.slots[maphash.Bytes(vc.seed, key)&(cacheSlots-1)]
}

// get returns the verdict stored under key.
func (vc *verdictCache) get(key []byte) (Verdict, bool) {
	if e := vc.slot(key).Load(); e != nil && e.key == string(key) {
		return e.v, true
	}
	return Verdict{}, false
}

// put stores a verified statement's verdict under key.
func (vc *verdictCache) put(key []byte, v Verdict) {
	vc.slot(key).Store(&cacheEntry{key: string(key), v: v})
}

// Cached returns the verdict Check gave a statement of sql's shape under
// tenant, if the cache holds one (it holds only verified statements). It
// parses nothing: a caller that gets no verdict calls Check (and Mentions)
// as usual.
func (g *Guard) Cached(sql, tenant string) (Verdict, bool) {
	if tenant == "" || g.cache == nil {
		return Verdict{}, false
	}
	c := checkerPool.Get().(*checker)
	v, ok := Verdict{}, false
	if c.cacheKey(sql, tenant) {
		v, ok = g.cache.get(c.key)
	}
	c.key, c.marks = c.key[:0], c.marks[:0] // nothing else of c was used
	checkerPool.Put(c)
	return v, ok
}

// marksAreNumbers reports whether every integer literal the key masks
// (c.marks) is exactly one number token of the lexed statement (c.toks).
// Only then is the verdict cached: a statement with the same key is the
// same text with other digits in those places, which the lexer reads the
// same way (it starts a number token at the same byte, and a run of digits
// ends it at the same following byte), so the same tokens but for the
// numbers' values, which no rule reads. Where the key's scan and the lexer
// delimit differently (digits that the lexer reads as part of a name, such
// as 0ae+1, or inside a quoted name that the scan took for something else)
// the statement is simply not cached.
func (c *checker) marksAreNumbers() bool {
	k := 0
	for m := 0; m+1 < len(c.marks); m += 2 {
		start, end := c.marks[m], c.marks[m+1]
		for k < len(c.toks) && c.toks[k].pos < start {
			k++
		}
		if k == len(c.toks) || c.toks[k].pos != start || c.toks[k].end != end || c.toks[k].kind != tkNumber {
			return false
		}
	}
	return true
}

// Byte classes of the key scan.
const (
	kcCopy  = iota // copied as it is
	kcNever        // the statement is not cached
	kcQuote        // ' " `: copied up to the closing quote
	kcDigit        // may start an integer literal
	kcDash         // '-': "--" starts a comment
	kcSlash        // '/': "/*" starts a comment
)

var keyClass = func() (t [256]uint8) {
	for b := range t {
		switch {
		case b >= 0x80, b < 0x20 && b != '\t' && b != '\n' && b != '\r':
			t[b] = kcNever
		case b == '\\', b == '$', b == '[', b == '#':
			t[b] = kcNever
		case b == '\'', b == '"', b == '`':
			t[b] = kcQuote
		case b >= '0' && b <= '9':
			t[b] = kcDigit
		case b == '-':
			t[b] = kcDash
		case b == '/':
			t[b] = kcSlash
		default:
			t[b] = kcCopy
		}
	}
	return t
}()

// cacheKey builds the key of sql under tenant into c.key and reports
// whether the statement may be cached. A first pass finds the integer
// literals to mask (c.marks) without copying anything; the key is then
// copied in as many pieces as there are literals, plus one.
func (c *checker) cacheKey(sql, tenant string) bool {
	n := len(sql)
	// A backslash may escape a quote (MySQL strings, PostgreSQL E''
	// strings): the scan below could not tell where such a string ends.
	if n > maxCachedLen || strings.IndexByte(sql, '\\') >= 0 {
		return false
	}
	marks := c.marks[:0]
	for i := 0; i < n; {
		b := sql[i]
		switch keyClass[b] {
		case kcCopy:
			i++
		case kcNever:
			return false
		case kcQuote:
			// Up to the closing quote (a doubled quote closes and opens
			// again). Bytes inside quotes are never masked, so the key
			// tells them apart from the text outside.
			i++
			for i < n && sql[i] != b {
				if x := sql[i]; x < 0x20 && x != '\t' && x != '\n' && x != '\r' {
					return false // a control byte, numMark included
				}
				i++
			}
			if i == n {
				return false
			}
			i++
		case kcDigit:
			j := i + 1
			for j < n && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			// Only a standalone integer: not part of a name (c1, 1abc in
			// MySQL), a decimal (1.5, .5, t.1), an exponent (1e5) or a hex
			// literal (0x1F).
			if (i == 0 || !identByte[sql[i-1]] && sql[i-1] != '.') && (j == n || !identByte[sql[j]] && sql[j] != '.') {
				marks = append(marks, int32(i), int32(j))
			}
			i = j
		default: // kcDash, kcSlash
			if i+1 < n && ((b == '-' && sql[i+1] == '-') || (b == '/' && sql[i+1] == '*')) {
				return false
			}
			i++
		}
	}
	c.marks = marks
	c.key = append(c.key[:0], tenant...)
	c.key = append(c.key, 0)
	prev := 0
	for m := 0; m < len(marks); m += 2 {
		c.key = append(c.key, sql[prev:marks[m]]...)
		c.key = append(c.key, numMark)
		prev = int(marks[m+1])
	}
	c.key = append(c.key, sql[prev:]...)
	return true
}
