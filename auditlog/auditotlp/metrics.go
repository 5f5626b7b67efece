package auditotlp

import (
	"context"
	"errors"
	"math"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// Values of the audit.queue attribute of tenantshield.audit.queue.size.
const (
	QueueMemory = "memory" // the batch mode's in-memory queue
	QueueSpool  = "spool"  // a durable sink's spool: records not yet acknowledged by the Collector
)

// RegisterMetrics registers observable instruments on mp (nil: the global
// MeterProvider) that report the delivery counters of stats at each
// collection, and, when sink is not nil, the records pending in its spool:
//
//	tenantshield.audit.records.emitted   counter        {record}  Stats.Emitted
//	tenantshield.audit.records.exported  counter        {record}  Stats.Exported
//	tenantshield.audit.records.failed    counter        {record}  Stats.Failed
//	tenantshield.audit.records.dropped   counter        {record}  Stats.Dropped
//	tenantshield.audit.export.retries    counter        {export}  Stats.Retries
//	tenantshield.audit.queue.size        up-down count  {record}  audit.queue=spool: sink.Pending(),
//	                                                              else audit.queue=memory: Stats.Queued
//
// Give stats to the provider or sink with [WithStats]. Nothing is measured on
// the audit path itself: the callbacks read the counters when a reader
// collects. Registering is the opt-in (like otelobs.ConfigureMetrics for
// the other instruments); unregister with the returned Registration. Use
// one registration per stats: two would report the same series twice.
func RegisterMetrics(mp metric.MeterProvider, stats *ExportStats, sink *DurableSink) (metric.Registration, error) {
	if stats == nil {
		return nil, errors.New("auditotlp.RegisterMetrics: stats is nil")
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(telemetry.ScopeAuditDelivery, metric.WithInstrumentationVersion(telemetry.Version))
	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	emitted := counter(telemetry.MetricAuditEmitted, "{record}", "Audit records emitted to the delivery pipeline.")
	exported := counter(telemetry.MetricAuditExported, "{record}", "Audit records the exporter delivered (the Collector accepted them).")
	failed := counter(telemetry.MetricAuditFailed, "{record}", "Audit records the exporter gave up on, or a durable sink could not store.")
	dropped := counter(telemetry.MetricAuditDropped, "{record}", "Audit records dropped from the batch mode's full queue.")
	retries := counter(telemetry.MetricAuditRetries, "{export}", "Failed exports a durable sink retries (nothing is dropped).")
	queue, err := meter.Int64ObservableUpDownCounter(telemetry.MetricAuditQueueSize, metric.WithUnit("{record}"),
		metric.WithDescription("Audit records waiting to be delivered."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	which := QueueMemory
	if sink != nil {
		which = QueueSpool
	}
	queueOpt := metric.WithAttributeSet(attribute.NewSet(telemetry.AuditQueue.String(which)))
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := stats.Snapshot()
		o.ObserveInt64(emitted, clamp(s.Emitted))
		o.ObserveInt64(exported, clamp(s.Exported))
		o.ObserveInt64(failed, clamp(s.Failed))
		o.ObserveInt64(dropped, clamp(s.Dropped))
		o.ObserveInt64(retries, clamp(s.Retries))
		depth := clamp(s.Queued)
		if sink != nil {
			depth = int64(sink.Pending())
		}
		o.ObserveInt64(queue, depth, queueOpt)
		return nil
	}, emitted, exported, failed, dropped, retries, queue)
}

func clamp(v uint64) int64 { return int64(min(v, math.MaxInt64)) }
