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
//
// otel_e2e_test.go drives the SDK directly; service_e2e_test.go builds
// examples/service and runs it as a process: both pipelines on, each one off,
// and a Collector outage (a Collector of its own on free ports, so that the
// shared stack is not disturbed; it needs OTELCOL_BIN, which make e2e sets).
package e2e
