package bunhook_test

// Models and tracing shared by the benchmarks (BenchmarkCompare,
// BenchmarkPostgresPointSelect).

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// PlainInvoice maps the same table without enforcement: the floor for
// correct hand-written code. It has Invoice's relations, so that both
// scan into rows of the same size.
type PlainInvoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	ID            int64          `bun:",pk,autoincrement"`
	TenantID      string         `bun:",notnull"`
	Number        string         `bun:",notnull"`
	CustomerID    int64          `bun:",nullzero"`
	Customer      *PlainCustomer `bun:"rel:belongs-to,join:customer_id=id"`
	Items         []*PlainItem   `bun:"rel:has-many,join:id=invoice_id"`
}

// PlainItem maps items without enforcement.
type PlainItem struct {
	bun.BaseModel `bun:"table:items,alias:item"`
	ID            int64     `bun:",pk,autoincrement"`
	TenantID      string    `bun:",notnull"`
	InvoiceID     int64     `bun:",notnull"`
	Name          string    `bun:",notnull"`
	DeletedAt     time.Time `bun:",soft_delete,nullzero"`
}

func noopTracing(b testing.TB) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}
