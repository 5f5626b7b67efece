package auditspool_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// A process appends audit records; a shipper exports them in order and
// acknowledges what the Collector accepted. After a restart, what was not
// acknowledged is delivered again.
func Example() {
	base, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(base)
	dir := filepath.Join(base, "auditspool") // created with mode 0700

	sp, err := auditspool.Open(dir, auditspool.WithHMAC("k1", []byte("a key of at least 16 bytes")))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, rec := range []string{"CONTEXT_BOUND", "ENFORCEMENT_VIOLATION", "CONTEXT_RELEASED"} {
		seq, _ := sp.Append(ctx, []byte(rec)) // durable when it returns
		fmt.Println("appended", seq, rec)
	}

	<-sp.Ready() // the shipper waits here when Next returns nothing
	es, _ := sp.Next(ctx, 2)
	for _, e := range es {
		fmt.Println("exported", e.Seq, string(e.Payload))
	}
	_ = sp.Ack(es[len(es)-1].Seq) // the Collector accepted them
	_ = sp.Close()

	sp, _ = auditspool.Open(dir, auditspool.WithHMAC("k1", []byte("a key of at least 16 bytes")))
	defer sp.Close()
	es, _ = sp.Next(ctx, 10)
	for _, e := range es {
		fmt.Println("after restart", e.Seq, string(e.Payload))
	}
	seq, _ := sp.Append(ctx, []byte("POLICY_ALLOW"))
	fmt.Println("appended", seq)
	// Output:
	// appended 1 CONTEXT_BOUND
	// appended 2 ENFORCEMENT_VIOLATION
	// appended 3 CONTEXT_RELEASED
	// exported 1 CONTEXT_BOUND
	// exported 2 ENFORCEMENT_VIOLATION
	// after restart 3 CONTEXT_RELEASED
	// appended 4
}
