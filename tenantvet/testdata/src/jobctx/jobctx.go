package jobctx

import (
	"context"
	"net/http"

	"github.com/riverqueue/river"
	"github.com/tenantshield/tenantshield-go/scope"
)

type Tx struct{}

type SendInvoice struct{ ID int64 }

func (SendInvoice) Kind() string { return "send_invoice" }

// Purge spans tenants: a maintenance job.
type Purge struct{}

func (Purge) Kind() string              { return "purge" }
func (Purge) MaintenanceReason() string { return "nightly retention sweep" }

// Odd has a MaintenanceReason of the wrong shape: not a maintenance job.
type Odd struct{}

func (Odd) Kind() string                   { return "odd" }
func (Odd) MaintenanceReason(x int) string { return "" }

func positives(ctx context.Context, c *river.Client[Tx], tx Tx) {
	_, _ = c.Insert(context.Background(), SendInvoice{ID: 1}, nil)                             // want `jobctx: job enqueued with context.Background\(\): scoperiver takes the job's tenant from the context`
	_, _ = c.Insert(context.TODO(), SendInvoice{ID: 2}, nil)                                   // want `job enqueued with context.TODO\(\)`
	_, _ = c.InsertTx(context.Background(), tx, SendInvoice{}, nil)                            // want `job enqueued with context.Background\(\)`
	_, _ = c.InsertMany(context.Background(), []river.InsertManyParams{{Args: SendInvoice{}}}) // want `job enqueued with`
	_, _ = c.InsertManyTx(context.Background(), tx, nil)                                       // want `job enqueued with`
	_, _ = c.InsertManyFast(context.TODO(), nil)                                               // want `job enqueued with`
	_, _ = c.InsertManyFastTx(context.Background(), tx, nil)                                   // want `job enqueued with`
	_, _ = c.Insert(context.Background(), Odd{}, nil)                                          // want `job enqueued with`
	// A batch of maintenance jobs is still reported: the check sees the
	// slice, not its elements.
	_, _ = c.InsertMany(context.Background(), []river.InsertManyParams{{Args: Purge{}}}) // want `job enqueued with`
}

// Without a context of its own the function is reported too: the insert
// fails at run time whatever the caller has.
func noContext(c *river.Client[Tx]) {
	_, _ = c.Insert(context.Background(), SendInvoice{}, nil) // want `job enqueued with`
}

func handler(w http.ResponseWriter, r *http.Request, c *river.Client[Tx], tx Tx) {
	ctx := r.Context()
	// The caller's context, a detached one, one made by scope: fine.
	_, _ = c.Insert(ctx, SendInvoice{}, nil)
	_, _ = c.Insert(r.Context(), SendInvoice{}, nil)
	_, _ = c.InsertTx(ctx, tx, SendInvoice{}, nil)
	_, _ = c.InsertMany(ctx, nil)
	_, _ = c.InsertManyFast(ctx, nil)
	if d, err := scope.Detach(ctx); err == nil {
		_, _ = c.Insert(d, SendInvoice{}, nil)
	}
	_, _ = c.Insert(context.WithoutCancel(ctx), SendInvoice{}, nil)
	// A maintenance job is enqueued without a tenant on purpose.
	_, _ = c.Insert(context.Background(), Purge{}, nil)
	_, _ = c.InsertTx(context.Background(), tx, Purge{}, nil)
	_, _ = c.Insert(context.TODO(), &Purge{}, nil)
	// Not an insert.
	_ = c.Start(context.Background())
	// A fresh context bound to a tenant by scope.Run.
	_ = scope.Run(context.Background(), scope.MustParse("acme"), func(ctx context.Context) error {
		_, err := c.Insert(ctx, SendInvoice{}, nil)
		return err
	})
}

//tenantshield:ignore jobctx the import tool enqueues for the tenant named in each job's arguments by a fan-out job
func ignored(c *river.Client[Tx]) {
	_, _ = c.Insert(context.Background(), SendInvoice{}, nil) //tenantshield:ignore jobctx seeded by the import tool for a tenant-bound fan-out
}
