package sqlguard

// kwID identifies a keyword the parser cares about. Quoted identifiers are
// never keywords.
type kwID uint8

const (
	kwNone kwID = iota
	kwSELECT
	kwFROM
	kwWHERE
	kwGROUP
	kwBY
	kwHAVING
	kwWINDOW
	kwORDER
	kwLIMIT
	kwOFFSET
	kwFETCH
	kwFOR
	kwLOCK
	kwINTO
	kwUNION
	kwINTERSECT
	kwEXCEPT
	kwMINUS
	kwALL
	kwDISTINCT
	kwAS
	kwON
	kwUSING
	kwJOIN
	kwINNER
	kwLEFT
	kwRIGHT
	kwFULL
	kwOUTER
	kwCROSS
	kwNATURAL
	kwSTRAIGHTJOIN
	kwLATERAL
	kwONLY
	kwAND
	kwOR
	kwXOR
	kwNOT
	kwBETWEEN
	kwCASE
	kwEND
	kwIS
	kwWITH
	kwRECURSIVE
	kwMATERIALIZED
	kwVALUES
	kwVALUE
	kwROW
	kwDEFAULT
	kwINSERT
	kwREPLACE
	kwIGNORE
	kwUPDATE
	kwDELETE
	kwSET
	kwRETURNING
	kwCONFLICT
	kwDO
	kwNOTHING
	kwDUPLICATE
	kwKEY
	kwMERGE
	kwTRUNCATE
	kwTABLE
	kwCREATE
	kwALTER
	kwDROP
	kwRENAME
	kwCOMMENT
	kwGRANT
	kwREVOKE
	kwBEGIN
	kwSTART
	kwCOMMIT
	kwROLLBACK
	kwSAVEPOINT
	kwRELEASE
	kwABORT
	kwRESET
	kwUSE
	kwFORCE
	kwINDEX
	kwPARTITION
	kwOVERRIDING
	kwLOWPRIORITY
	kwHIGHPRIORITY
	kwDELAYED
	kwQUICK
	kwEXCLUDED
	kwCONSTRAINT
	kwTABLESAMPLE
	kwSHARE
	kwNO
	kwOF
	kwNOWAIT
	kwSKIP
	kwLOCKED
	kwIN
	kwMODE
	kwNULL
	kwWHEN
	kwTHEN
	kwELSE
	kwTEXT
	kwVARCHAR
	kwSYSTEM
	kwCount // sentinel: number of keywords
)

type kwInfo struct {
	word    string
	id      kwID
	noAlias bool // cannot be an implicit (AS-less) table alias
}

var keywords = []kwInfo{
	{"select", kwSELECT, true},
	{"from", kwFROM, true},
	{"where", kwWHERE, true},
	{"group", kwGROUP, true},
	{"by", kwBY, true},
	{"having", kwHAVING, true},
	{"window", kwWINDOW, true},
	{"order", kwORDER, true},
	{"limit", kwLIMIT, true},
	{"offset", kwOFFSET, true},
	{"fetch", kwFETCH, true},
	{"for", kwFOR, true},
	{"lock", kwLOCK, true},
	{"into", kwINTO, true},
	{"union", kwUNION, true},
	{"intersect", kwINTERSECT, true},
	{"except", kwEXCEPT, true},
	{"minus", kwMINUS, true},
	{"all", kwALL, true},
	{"distinct", kwDISTINCT, true},
	{"as", kwAS, true},
	{"on", kwON, true},
	{"using", kwUSING, true},
	{"join", kwJOIN, true},
	{"inner", kwINNER, true},
	{"left", kwLEFT, true},
	{"right", kwRIGHT, true},
	{"full", kwFULL, true},
	{"outer", kwOUTER, true},
	{"cross", kwCROSS, true},
	{"natural", kwNATURAL, true},
	{"straight_join", kwSTRAIGHTJOIN, true},
	{"lateral", kwLATERAL, true},
	{"only", kwONLY, true},
	{"and", kwAND, true},
	{"or", kwOR, true},
	{"xor", kwXOR, true},
	{"not", kwNOT, true},
	{"between", kwBETWEEN, true},
	{"case", kwCASE, true},
	{"end", kwEND, true},
	{"is", kwIS, true},
	{"with", kwWITH, true},
	{"recursive", kwRECURSIVE, true},
	{"materialized", kwMATERIALIZED, false},
	{"values", kwVALUES, true},
	{"value", kwVALUE, false},
	{"row", kwROW, false},
	{"default", kwDEFAULT, true},
	{"insert", kwINSERT, true},
	{"replace", kwREPLACE, true},
	{"ignore", kwIGNORE, true},
	{"update", kwUPDATE, true},
	{"delete", kwDELETE, true},
	{"set", kwSET, true},
	{"returning", kwRETURNING, true},
	{"conflict", kwCONFLICT, false},
	{"do", kwDO, true},
	{"nothing", kwNOTHING, false},
	{"duplicate", kwDUPLICATE, false},
	{"key", kwKEY, false},
	{"merge", kwMERGE, true},
	{"truncate", kwTRUNCATE, true},
	{"table", kwTABLE, true},
	{"create", kwCREATE, true},
	{"alter", kwALTER, true},
	{"drop", kwDROP, true},
	{"rename", kwRENAME, true},
	{"comment", kwCOMMENT, false},
	{"grant", kwGRANT, true},
	{"revoke", kwREVOKE, true},
	{"begin", kwBEGIN, false},
	{"start", kwSTART, false},
	{"commit", kwCOMMIT, false},
	{"rollback", kwROLLBACK, false},
	{"savepoint", kwSAVEPOINT, false},
	{"release", kwRELEASE, false},
	{"abort", kwABORT, false},
	{"reset", kwRESET, false},
	{"use", kwUSE, true},
	{"force", kwFORCE, true},
	{"index", kwINDEX, false},
	{"partition", kwPARTITION, true},
	{"overriding", kwOVERRIDING, true},
	{"low_priority", kwLOWPRIORITY, true},
	{"high_priority", kwHIGHPRIORITY, true},
	{"delayed", kwDELAYED, true},
	{"quick", kwQUICK, true},
	{"excluded", kwEXCLUDED, false},
	{"constraint", kwCONSTRAINT, true},
	{"tablesample", kwTABLESAMPLE, true},
	{"share", kwSHARE, false},
	{"no", kwNO, false},
	{"of", kwOF, true},
	{"nowait", kwNOWAIT, false},
	{"skip", kwSKIP, false},
	{"locked", kwLOCKED, false},
	{"in", kwIN, true},
	{"mode", kwMODE, false},
	{"null", kwNULL, true},
	{"when", kwWHEN, true},
	{"then", kwTHEN, true},
	{"else", kwELSE, true},
	{"text", kwTEXT, false},
	{"varchar", kwVARCHAR, false},
	{"system", kwSYSTEM, false},
}

var kwNoAlias [kwCount]bool

func init() {
	for _, k := range keywords {
		kwNoAlias[k.id] = k.noAlias
	}
}

type wordEntry struct {
	word   string // lower-case
	kw     kwID
	tbl    int16 // 1-based index into Guard.tables; 0 when not a tenant table
	danger bool  // PostgreSQL function that reads unnamed tables
	// mention: Mentions reports the word although it names no table.
	mention bool
	// In the table of known names (closed.go): fn marks an allowed
	// function, shared the 1-based index of a shared table.
	fn      bool
	grammar bool // a word of the grammar read as a call (functions.go)
	// fromOnly: a table function allowed only as a FROM item.
	fromOnly bool
	shared   int16
}

// wordTable is an open-addressing hash table of lower-case words, so that
// the lexer can classify identifiers without allocating. The hash is cheap
// (length and three bytes, case-folded); lookups compare the word.
type wordTable struct {
	slots  []wordEntry
	shift  uint
	maxLen int // longest word in the table
	// first[n] has bit firstBit(w[0]) set for every word w of length n:
	// most identifiers are rejected by this filter without hashing.
	first [64]uint32
}

// firstBit maps a byte to a bit of wordTable.first: letters (folded) to
// 0..25, '_' to 26, everything else to 27. lowerTab folds ASCII letters;
// wordByte marks the bytes of a word as Mentions reads them.
var (
	firstBit [256]uint8
	lowerTab [256]byte
	wordByte [256]bool
)

func init() {
	for i := range firstBit {
		lowerTab[i] = lowerByte(byte(i))
		wordByte[i] = isWordByte(byte(i))
		b := lowerByte(byte(i))
		switch {
		case b >= 'a' && b <= 'z':
			firstBit[i] = b - 'a'
		case b == '_':
			firstBit[i] = 26
		default:
			firstBit[i] = 27
		}
	}
}

// mayContain reports whether w can be in the table (cheap filter).
func (t *wordTable) mayContain(w string) bool {
	return len(w) > 0 && len(w) <= t.maxLen && t.first[len(w)]&(1<<firstBit[w[0]]) != 0
}

func wordHash(w string) uint64 {
	n := len(w)
	if n == 0 {
		return 0
	}
	h := uint64(n) | uint64(lowerTab[w[0]])<<8 | uint64(lowerTab[w[n-1]])<<16 | uint64(lowerTab[w[n>>1]])<<24 |
		uint64(lowerTab[w[n>>2]])<<32
	return h * 0x9E3779B97F4A7C15
}

func buildWordTable(d Dialect, tables []tableInfo) wordTable {
	t := newWordTable(len(keywords) + len(tables) + len(dangerousFunctions(d)))
	for _, k := range keywords {
		t.insert(k.word).kw = k.id
	}
	for _, f := range dangerousFunctions(d) {
		t.insert(f).danger = true
	}
	if d == SQLite {
		// VACUUM INTO copies every table: make Mentions see it (Check
		// refuses VACUUM ... INTO).
		t.insert("vacuum").mention = true
	}
	for i, tb := range tables {
		t.insert(tb.name).tbl = int16(i + 1)
	}
	return t
}

// newWordTable returns an empty table sized for n words.
func newWordTable(n int) wordTable {
	bits := uint(6)
	for 1<<bits < 4*n {
		bits++
	}
	return wordTable{slots: make([]wordEntry, 1<<bits), shift: 64 - bits}
}

// insert returns the entry of the lower-case word w, adding it if needed.
func (t *wordTable) insert(w string) *wordEntry {
	if len(w) > t.maxLen {
		t.maxLen = len(w)
	}
	t.first[len(w)] |= 1 << firstBit[w[0]]
	mask := uint64(len(t.slots) - 1)
	i := wordHash(w) >> t.shift
	for {
		e := &t.slots[i]
		if e.word == "" {
			e.word = w
			return e
		}
		if e.word == w {
			return e
		}
		i = (i + 1) & mask
	}
}

// lookup finds w (compared ASCII case-insensitively).
func (t *wordTable) lookup(w string) *wordEntry {
	mask := uint64(len(t.slots) - 1)
	i := wordHash(w) >> t.shift
	for {
		e := &t.slots[i]
		if e.word == "" {
			return nil
		}
		if len(e.word) == len(w) && equalFoldASCII(w, e.word) {
			return e
		}
		i = (i + 1) & mask
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}
