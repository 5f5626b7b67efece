// Package scopetoken signs and verifies the compact token that carries a
// bound tenant from one service to the next.
//
// A tenant that arrives with a call (in a header, in W3C baggage) was chosen
// by whoever made the call. A service that binds the tenant its caller names
// must know that the caller is one of its own services, acting for that
// tenant, in this very trace. The propagation token says so:
//
//	v1.<key id>.<tenant, base64url>.<trace id, 32 hex>.<expiry, unix seconds>.<HMAC-SHA256, base64url>
//
// The MAC covers everything before it (with a domain-separation prefix) under
// the secret named by the key id. [Keyring.Sign] makes a token for the tenant
// and the trace of a context; [Keyring.Verify] accepts it only if it parses
// strictly (at most [MaxTokenBytes]), names a key of the keyring, carries a
// valid MAC (compared in constant time), has not expired, is not valid for
// longer than the keyring's TTL, names a valid tenant, and was made for the
// trace the verifying context is in.
//
// The doors carry it: scopehttp.NewTransport and scopehttp.NewTokenStrategy
// over HTTP ([HTTPHeader]), and scopegrpc's client interceptors and
// scopegrpc.NewTokenStrategy over gRPC ([MetadataKey]). Baggage is never
// read: a tenant in baggage alone proves nothing.
//
// # What a valid token proves, and what it does not
//
// It proves that a holder of the key signed this tenant for this trace, less
// than the TTL ago. It does not prove that the call is the one the signer
// made: within the TTL, anyone who sees the token can replay it in the same
// trace (same trace id, for example by sending a traceparent header naming
// it). Keep the TTL short, keep calls between services on authenticated,
// encrypted channels (mTLS), and keep the keys secret: whoever holds a key
// can sign any tenant for any trace. Rotate keys by adding the new key id to
// every verifier first, then making it the signers' active key, then
// removing the old one.
//
// # Errors
//
// Every failure of Verify is a [*Error] matching [ErrInvalid] and one of the
// specific sentinels: [ErrTooLarge], [ErrMalformed], [ErrUnknownKey],
// [ErrBadSignature], [ErrExpired], [ErrLifetime], [ErrInvalidTenant],
// [ErrTraceMismatch]. Sign fails with [ErrNoTrace] when the context has no
// valid span context.
package scopetoken
