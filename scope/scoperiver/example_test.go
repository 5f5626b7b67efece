package scoperiver_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river/rivertype"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

// The middleware on both sides of a job, called here as River calls it: the
// job is stamped with the tenant of the inserting context, runs for that
// tenant, and an edited claim never reaches the worker.
func ExampleMiddleware() {
	keys, _ := scoperiver.NewKeyring(scoperiver.Key{ID: "jobs-1", Secret: []byte("an example secret of at least 32 bytes")})
	mw, _ := scoperiver.NewMiddleware(keys) // goes into river.Config.Middleware

	// Insert: River calls InsertMany with the job's parameters.
	job := &rivertype.JobInsertParams{Kind: "send_invoice", EncodedArgs: []byte(`{"invoice_id":42}`), Args: nil}
	ctx := scope.NewContext(context.Background(), scope.MustParse("acme"))
	_, _ = mw.InsertMany(ctx, []*rivertype.JobInsertParams{job}, func(context.Context) ([]*rivertype.JobInsertResult, error) {
		return nil, nil // River inserts the job here
	})

	// Work: River calls Work with the stored row and the worker.
	row := &rivertype.JobRow{ID: 1, Kind: job.Kind, EncodedArgs: job.EncodedArgs, Metadata: job.Metadata}
	worker := func(ctx context.Context) error {
		t, _ := scope.Require(ctx)
		fmt.Println("working for", t)
		return nil
	}
	fmt.Println(mw.Work(context.Background(), row, worker))

	// The same job with its arguments changed in the database.
	row.EncodedArgs = []byte(`{"invoice_id":43}`)
	err := mw.Work(context.Background(), row, worker)
	fmt.Println(errors.Is(err, scoperiver.ErrTagMismatch))
	// Output:
	// working for acme
	// <nil>
	// true
}
