// Command tenantshieldvet runs the tenant isolation checks of package
// tenantvet. Run it through go vet:
//
//	go install github.com/tenantshield/tenantshield-go/cmd/tenantshieldvet@latest
//	go vet -vettool=$(go env GOPATH)/bin/tenantshieldvet ./...
//
// or on its own, with package patterns: tenantshieldvet ./...
// (-help lists the analyzers and their flags).
package main

import (
	"github.com/tenantshield/tenantshield-go/tenantvet"
	"golang.org/x/tools/go/analysis/multichecker"
)

func main() { multichecker.Main(tenantvet.Analyzers()...) }
