package scoperiver

// SignedMetadata returns job metadata carrying a claim for tenant (or, when
// bypass is true, for the bypass reason tenant) tagged with kr's signing
// key, as the middleware would store it, without validating the tenant: the
// tests use it to build jobs the middleware itself never makes.
func SignedMetadata(kr *Keyring, tenant string, bypass bool, kind string, args []byte) ([]byte, error) {
	mode := modeTenant
	if bypass {
		mode = modeBypass
	}
	c, err := kr.sign(mode, tenant, kind, args)
	if err != nil {
		return nil, err
	}
	return withClaim(nil, c)
}

// ParseClaim and CanonicalJSON expose the parser and the canonical form to
// the external tests.
var (
	ParseClaim    = func(md []byte) error { _, err := parseClaim(md); return err }
	CanonicalJSON = canonicalJSON
)

// Verify parses the claim in md and verifies it for kind and args, returning
// the tenant (or bypass reason) it names.
func Verify(kr *Keyring, md []byte, kind string, args []byte) (string, error) {
	c, err := parseClaim(md)
	if err != nil {
		return "", err
	}
	if err := kr.verify(c, kind, args); err != nil {
		return "", err
	}
	_, v := c.mode()
	return v, nil
}

// BoundedID is boundedID, for the external tests.
var BoundedID = boundedID
