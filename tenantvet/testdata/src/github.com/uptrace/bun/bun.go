// Package bun is a minimal stand-in for github.com/uptrace/bun: only the
// names the analyzers look at.
package bun

import (
	"context"
	"database/sql"
)

type BaseModel struct{}

type Ident string

type IDB interface {
	NewRaw(query string, args ...any) *RawQuery
	NewSelect() *SelectQuery
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type DB struct{ *sql.DB }

func (db *DB) NewRaw(query string, args ...any) *RawQuery { return nil }
func (db *DB) NewSelect() *SelectQuery                    { return nil }
func (db *DB) NewInsert() *InsertQuery                    { return nil }
func (db *DB) NewUpdate() *UpdateQuery                    { return nil }
func (db *DB) NewDelete() *DeleteQuery                    { return nil }
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return nil, nil
}
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return nil, nil
}
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row { return nil }
func (db *DB) Exec(query string, args ...any) (sql.Result, error)                      { return nil, nil }

type Tx struct{ *sql.Tx }

func (tx Tx) NewRaw(query string, args ...any) *RawQuery { return nil }
func (tx Tx) NewSelect() *SelectQuery                    { return nil }
func (tx Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return nil, nil
}

type Conn struct{ *sql.Conn }

func (c Conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return nil, nil
}

type RawQuery struct{}

func (q *RawQuery) Scan(ctx context.Context, dest ...any) error               { return nil }
func (q *RawQuery) Exec(ctx context.Context, dest ...any) (sql.Result, error) { return nil, nil }

type SelectQuery struct{}

func (q *SelectQuery) Model(model any) *SelectQuery                          { return q }
func (q *SelectQuery) Table(tables ...string) *SelectQuery                   { return q }
func (q *SelectQuery) TableExpr(query string, args ...any) *SelectQuery      { return q }
func (q *SelectQuery) ModelTableExpr(query string, args ...any) *SelectQuery { return q }
func (q *SelectQuery) ColumnExpr(query string, args ...any) *SelectQuery     { return q }
func (q *SelectQuery) Where(query string, args ...any) *SelectQuery          { return q }
func (q *SelectQuery) Scan(ctx context.Context, dest ...any) error           { return nil }
func (q *SelectQuery) Count(ctx context.Context) (int, error)                { return 0, nil }
func (q *SelectQuery) Exists(ctx context.Context) (bool, error)              { return false, nil }
func (q *SelectQuery) Exec(ctx context.Context, dest ...any) (sql.Result, error) {
	return nil, nil
}

type InsertQuery struct{}

func (q *InsertQuery) Model(model any) *InsertQuery                              { return q }
func (q *InsertQuery) Exec(ctx context.Context, dest ...any) (sql.Result, error) { return nil, nil }

type UpdateQuery struct{}

func (q *UpdateQuery) Model(model any) *UpdateQuery                              { return q }
func (q *UpdateQuery) Set(query string, args ...any) *UpdateQuery                { return q }
func (q *UpdateQuery) Where(query string, args ...any) *UpdateQuery              { return q }
func (q *UpdateQuery) Exec(ctx context.Context, dest ...any) (sql.Result, error) { return nil, nil }

type DeleteQuery struct{}

func (q *DeleteQuery) Model(model any) *DeleteQuery                              { return q }
func (q *DeleteQuery) Where(query string, args ...any) *DeleteQuery              { return q }
func (q *DeleteQuery) Exec(ctx context.Context, dest ...any) (sql.Result, error) { return nil, nil }
