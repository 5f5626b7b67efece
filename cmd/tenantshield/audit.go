package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/tenantshield/tenantshield-go/auditlog/auditverify"
)

// stdin is what "-" reads (a variable for the tests).
var stdin io.Reader = os.Stdin

const auditUsage = `usage: tenantshield audit verify [flags] FILE...
FILE is a file of auditlog JSON lines or of the OpenTelemetry Collector's
file exporter (OTLP/JSON), or - for the standard input`

// keyFlag is a repeatable id=value flag.
type keyFlag struct {
	what   string
	decode func(string) ([]byte, error)
	keys   map[string][]byte
}

func (k *keyFlag) String() string {
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func (k *keyFlag) Set(s string) error {
	id, v, ok := strings.Cut(s, "=")
	if !ok || id == "" {
		return fmt.Errorf("want id=%s", k.what)
	}
	b, err := k.decode(v)
	if err != nil {
		return fmt.Errorf("key %q: %w", id, err)
	}
	if k.keys == nil {
		k.keys = map[string][]byte{}
	}
	k.keys[id] = b
	return nil
}

func decodeHMAC(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("want the key in hex")
	}
	return b, nil
}

func decodePub(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("want a %d-byte Ed25519 public key in base64", ed25519.PublicKeySize)
	}
	return b, nil
}

// runAuditVerify is "tenantshield audit verify"; args starts with "verify".
func runAuditVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenantshield audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, auditUsage)
		fs.PrintDefaults()
	}
	hmacKeys := &keyFlag{what: "hex", decode: decodeHMAC}
	pubKeys := &keyFlag{what: "base64", decode: decodePub}
	fs.Var(hmacKeys, "hmac-key", "an HMAC key of the chain, as `id=hex` (repeatable)")
	fs.Var(pubKeys, "pubkey", "an Ed25519 public key of the checkpoint signatures, as `id=base64` (repeatable)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	requireSigs := fs.Bool("require-signatures", false, "fail unless every checkpoint has a signature verified with a -pubkey")
	allowUnknown := fs.Bool("allow-unknown-keys", false, "do not fail on records under an HMAC key id without a -hmac-key")
	allowOpen := fs.Bool("allow-open", false, "do not fail on a stream without its final checkpoint (still being written)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "tenantshield audit verify: give at least one FILE (after the flags)\n"+auditUsage)
		return 2
	}
	opts := auditverify.Options{HMACKeys: hmacKeys.keys, PublicKeys: map[string]ed25519.PublicKey{},
		RequireSignatures: *requireSigs, AllowUnknownKeys: *allowUnknown, AllowOpen: *allowOpen}
	for id, k := range pubKeys.keys {
		opts.PublicKeys[id] = ed25519.PublicKey(k)
	}
	var inputs []auditverify.Input
	var files []*os.File
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	stdinUsed := false
	for _, name := range fs.Args() {
		if name == "-" {
			if stdinUsed {
				fmt.Fprintln(stderr, "tenantshield audit verify: - (the standard input) given twice")
				return 2
			}
			stdinUsed = true
			inputs = append(inputs, auditverify.Input{Name: "-", R: stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "tenantshield audit verify:", err)
			return 2
		}
		files = append(files, f)
		inputs = append(inputs, auditverify.Input{Name: name, R: f})
	}
	r, err := auditverify.Verify(opts, inputs...)
	if err != nil {
		fmt.Fprintln(stderr, "tenantshield audit verify:", err)
		return 2
	}
	if *asJSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "tenantshield audit verify:", err)
		return 2
	}
	if !r.Intact {
		return 1
	}
	return 0
}
