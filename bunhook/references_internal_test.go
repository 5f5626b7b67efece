package bunhook

import (
	"database/sql"
	"reflect"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

func TestReferenceValue(t *testing.T) {
	n := int64(7)
	for _, c := range []struct {
		in   any
		want any
		ok   bool
	}{
		{int64(0), nil, false},
		{int64(5), int64(5), true},
		{&n, int64(7), true},
		{(*int64)(nil), nil, false},
		{sql.NullInt64{Int64: 5}, nil, false}, // not Valid: no reference
		{sql.NullInt64{Int64: 5, Valid: true}, int64(5), true},
		{[]byte{1, 2}, []byte{1, 2}, true},
	} {
		got, ok := referenceValue(reflect.ValueOf(c.in))
		if ok != c.ok || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("referenceValue(%#v) = %#v, %v; want %#v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

type refUser struct {
	bun.BaseModel `bun:"table:ref_users"`
	TenantOwned
	ID        int64       `bun:",pk"`
	TenantID  string      `bun:",notnull"`
	ProfileID int64       // has-one with the key on this table
	Profile   *refProfile `bun:"rel:has-one,join:profile_id=id"`
	Account   *refAccount `bun:"rel:has-one,join:id=user_id"` // the key on the joined table
}

type refProfile struct {
	bun.BaseModel `bun:"table:ref_profiles"`
	TenantOwned
	ID       int64  `bun:",pk"`
	TenantID string `bun:",notnull"`
}

type refAccount struct {
	bun.BaseModel `bun:"table:ref_accounts"`
	TenantOwned
	ID       int64  `bun:",pk"`
	TenantID string `bun:",notnull"`
	UserID   int64
}

// TestHasOneReferenceDirection: a has-one relation's foreign key is on
// whichever side does not hold the primary key.
func TestHasOneReferenceDirection(t *testing.T) {
	db := bun.NewDB(nil, sqlitedialect.New())
	e := newEnforcer(db.Dialect(), &config{})
	e.learnReferences(db.Table(reflect.TypeFor[refUser]()))
	if got := e.refs.of("ref_users"); len(got) != 1 || got[0].column != "profile_id" || got[0].parent.Name != "ref_profiles" || got[0].key != "id" {
		t.Errorf("ref_users references %+v; want profile_id -> ref_profiles.id", got)
	}
	if got := e.refs.of("ref_accounts"); len(got) != 1 || got[0].column != "user_id" || got[0].parent.Name != "ref_users" {
		t.Errorf("ref_accounts references %+v; want user_id -> ref_users.id", got)
	}
	if got := e.refs.of("ref_profiles"); len(got) != 0 {
		t.Errorf("ref_profiles references %+v; want none", got)
	}
}
