// Package bunhook is a minimal stand-in for the real bunhook.
package bunhook

type TenantOwned struct{}
