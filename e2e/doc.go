// Package e2e holds the end-to-end tests of tenantshield-go against a real
// OpenTelemetry Collector and a real Jaeger v2 (built by tools/otelcol and
// tools/jaeger, started by e2e/stack.sh).
//
// The tests are behind the build tag e2e and live in their own module, so
// that neither `go test ./...` at the repository root nor the library's
// go.mod sees them or their dependencies (the OTLP trace exporter). Run them
// with `make e2e`, which builds the tools, starts the stack if it is not
// running, runs
//
//	go test -tags e2e -count=1 ./...
//
// in this directory and stops the stack again if it started it.
package e2e
