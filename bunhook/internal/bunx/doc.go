// Package bunx reaches the parts of bun (github.com/uptrace/bun) that
// tenant enforcement needs and bun does not export: whether a query has a
// top-level WhereOr, an INSERT's ON clause, whether a DELETE renders as a
// soft delete, the inline joins of a SELECT (to add tenant conditions to
// their ON clauses), bun's count/exists wrappers (to re-render them) and a
// DB's ConnResolver.
//
// Every access is by reflection against the pinned bun version, resolved
// once at init; [Pinned] reports what could not be found, and a test fails
// when bun moves a field. When a field is missing the accessors answer
// conservatively (no OR seen, no join scoped, nothing rewrapped) and the
// SQL guard, which reads the final text, blocks what was not scoped:
// enforcement degrades to fail-closed, never open.
//
// The package imports nothing else of this module.
package bunx
