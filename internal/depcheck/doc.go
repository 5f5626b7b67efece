// Package depcheck holds no code: its test enforces the dependency direction
// between the packages of this module.
//
// The layers, from the bottom up:
//
//   - auditlog and otelobs (and their subpackages) import nothing else from
//     this module;
//   - scope imports only auditlog and otelobs from this module;
//   - bunhook and the rest of the library build on scope;
//   - examples are leaves that nothing outside examples/ imports;
//   - tenantvet (the go vet analyzers) imports nothing of this module, and
//     only cmd/tenantshieldvet may import it or golang.org/x/tools.
//
// The OpenTelemetry SDK (go.opentelemetry.io/otel/sdk/...) is opt-in: only
// packages whose last path element ends in "otlp" or "test" (for example
// auditlog/auditotlp) may depend on it, directly or transitively; the rest
// of the library uses the OpenTelemetry API alone.
//
// The test reads the real import graph with `go list -deps -json ./...` from
// the module root, so it covers whatever packages exist, and checks the rules
// transitively (only non-test imports count, as for users of the library).
// golangci-lint's depguard rules in .golangci.yml enforce the direct form of
// the same rules in the editor.
package depcheck
