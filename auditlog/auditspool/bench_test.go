package auditspool_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// benchPayload is the size of a typical audit record as JSON.
var benchPayload = bytes.Repeat([]byte("a"), 512)

// reportFsyncs reports the fsyncs per Append.
func reportFsyncs(b *testing.B, sp *auditspool.Spool) {
	st := sp.Stats()
	b.ReportMetric(float64(st.Fsyncs)/float64(b.N), "fsyncs/op")
}

func BenchmarkAppend(b *testing.B) {
	sp := open(b, spoolDir(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sp.Append(ctx, benchPayload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportFsyncs(b, sp)
}

// BenchmarkAppendParallel runs 8 appenders per CPU: group commit makes one
// fsync serve many of them.
func BenchmarkAppendParallel(b *testing.B) {
	sp := open(b, spoolDir(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := sp.Append(ctx, benchPayload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportFsyncs(b, sp)
}
