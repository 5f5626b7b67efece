//go:build tools

// Package lint pins the versions of the developer tools used by the
// repository's Makefile (golangci-lint and benchstat). It is never built
// into the library: the build tag keeps it out of every normal build, and
// the blank imports only make `go mod tidy` record the tools in go.mod and
// go.sum so that `go build` of the tools is reproducible.
package lint

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "golang.org/x/perf/cmd/benchstat"
)
