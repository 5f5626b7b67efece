// Package resolve is the carrier-agnostic core of the tenant-resolution
// strategies that the doors of package scope share: scopehttp reads HTTP
// headers, scopegrpc reads gRPC metadata, and both hand the values of a field
// to the same code here (the header and bearer-token strategies, the chain).
//
// A strategy of this package reads values, never a request: the door fetches
// the values of [Field] from its carrier (an http.Header, incoming gRPC
// metadata) and passes them in, so no carrier adapter is allocated per call.
// Errors are this package's [*Error] and [*Conflict] and [ErrNotApplicable];
// each door converts them to its own public error types.
package resolve
