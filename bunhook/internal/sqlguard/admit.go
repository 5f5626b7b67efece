package sqlguard

import "strings"

// Admit decides, for a statement that runs under a tenant scope and names
// no tenant table (Mentions is false), whether its kind may run at all. A
// statement the guard cannot see through could reach any tenant's rows in
// ways the text does not show, so only the kinds Check verifies, and the
// transaction statements, are admitted: SELECT, VALUES and WITH queries
// (not SELECT ... INTO, which writes a table, a file or variables),
// INSERT, REPLACE, UPDATE, DELETE, BEGIN / START TRANSACTION, COMMIT,
// END, ROLLBACK, SAVEPOINT, RELEASE and SET TRANSACTION. Everything else
// (dynamic SQL: DO, PREPARE, EXECUTE, EXECUTE IMMEDIATE, CALL, MariaDB's
// BEGIN NOT ATOMIC; DDL; GRANT, REVOKE and roles; SET, RESET and PRAGMA
// of server or session state; COPY, LOAD DATA, LOCK, EXPLAIN, SHOW,
// VACUUM; several statements in one text; text that cannot be read) gets
// a NotAllowed finding. Calls of dangerous functions are refused as in
// Check. The verdict's Kind and Operation describe the statement.
func (g *Guard) Admit(sql string) Verdict {
	c := checkerPool.Get().(*checker)
	c.g, c.sql = g, sql
	c.closed = g.closed
	// Admitted statements are cached like verified ones (cache.go), under
	// a key no tenant can have.
	keyed := g.cache != nil && c.cacheKey(sql, admitKey)
	if keyed {
		if v, ok := g.cache.get(c.key); ok {
			c.reset()
			checkerPool.Put(c)
			return v
		}
	}
	v := c.admit()
	if keyed && v.OK() && c.marksAreNumbers() {
		g.cache.put(c.key, v)
	}
	c.reset()
	checkerPool.Put(c)
	return v
}

// admitKey stands for the tenant in the cache keys of Admit: a control
// byte, which no tenant id holds (package scope refuses them).
const admitKey = "\x02"

func (c *checker) admit() Verdict {
	if !c.lex() {
		c.kind, c.op = c.kindOfFirst()
		c.finding(NotAllowed, "", c.lexPos, "the text cannot be read as one statement: "+c.lexErr)
		return c.verdict()
	}
	end, multi := c.statementEnd()
	c.kind, c.op = c.kindOfFirst()
	switch {
	case end == 0 && !multi: // comments and semicolons only
	case multi:
		c.finding(NotAllowed, "", int(c.toks[end].pos), "several statements in one text")
	case c.danger:
		for k := range c.toks {
			c.steps++
			if t := &c.toks[k]; t.flags&tfDanger != 0 {
				c.finding(NotAllowed, "", int(t.pos), "calls "+strings.ToLower(c.text(k))+
					"(), which reads or changes what the SQL text does not show")
				break
			}
		}
	case c.suspicious || c.suspiciousCol:
		c.finding(NotAllowed, "", c.suspiciousPos, "an identifier with escaped or non-ASCII characters may spell another name")
	case !c.admissible(end):
		what := c.op
		if c.kind == Select {
			what = "SELECT ... INTO"
		}
		c.finding(NotAllowed, "", int(c.toks[0].pos), what+" statements never run under a tenant scope")
	case c.closed && c.isQueryOrWrite():
		// The closed world: every relation, function and operator it names
		// must be known (closed.go), and the parser must understand it to
		// say so.
		if c.opRun && c.g.dialect == Postgres {
			c.operators(end)
		}
		c.statement(0, end)
		c.settle(end)
	}
	return c.verdict()
}

// isQueryOrWrite reports whether the statement is a query, INSERT,
// REPLACE, UPDATE or DELETE.
func (c *checker) isQueryOrWrite() bool {
	t := &c.toks[0]
	if t.kind == tkLParen {
		return true
	}
	switch t.kw {
	case kwSELECT, kwVALUES, kwWITH, kwINSERT, kwREPLACE, kwUPDATE, kwDELETE:
		return t.kind == tkIdent
	}
	return false
}

// admissible reports whether the statement in toks[:end] is of a kind that
// Admit admits.
func (c *checker) admissible(end int) bool {
	t := &c.toks[0]
	if t.kind == tkLParen {
		return c.noInto(end)
	}
	if t.kind != tkIdent {
		return false
	}
	switch t.kw {
	case kwSELECT, kwVALUES, kwWITH:
		if c.kind != Select {
			return c.noCatalog(end) // a data-modifying WITH
		}
		return c.noInto(end)
	case kwINSERT, kwREPLACE, kwUPDATE, kwDELETE:
		return c.noCatalog(end)
	case kwBEGIN:
		// MariaDB's BEGIN NOT ATOMIC ... END is a compound statement.
		for k := 1; k < end; k++ {
			c.steps++
			if strings.EqualFold(c.text(k), "ATOMIC") {
				return false
			}
		}
		return true
	case kwCOMMIT, kwROLLBACK, kwSAVEPOINT, kwRELEASE, kwEND, kwABORT:
		return true
	case kwSTART, kwSET:
		return end > 1 && strings.EqualFold(c.text(1), "TRANSACTION")
	}
	return false
}

// noInto reports whether a query has no INTO (SELECT ... INTO a table, a
// server file or user variables).
func (c *checker) noInto(end int) bool {
	// A step per token read, counted from the index (see statementEnd).
	for k := 0; k < end; k++ {
		if c.toks[k].kind == tkIdent && c.toks[k].kw == kwINTO {
			c.steps += k + 1
			return false
		}
	}
	c.steps += end
	return true
}

// noCatalog reports whether a write names no system catalog (as a table or
// a schema qualifier), quoted or not.
func (c *checker) noCatalog(end int) bool {
	// A step per token read, counted from the index (see statementEnd).
	for k := 0; k < end; k++ {
		t := &c.toks[k]
		if t.kind != tkIdent && t.kind != tkQIdent {
			continue
		}
		name := c.text(k)
		if t.kind == tkQIdent && len(name) >= 2 {
			name = name[1 : len(name)-1]
		}
		for _, cat := range systemCatalogs {
			if strings.EqualFold(name, cat) {
				c.steps += k + 1
				return false
			}
		}
	}
	c.steps += end
	return true
}
