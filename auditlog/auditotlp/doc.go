// Package auditotlp builds a LoggerProvider dedicated to TenantShield's audit
// records, exporting over OTLP to an OpenTelemetry Collector.
//
// Audit records must not share a pipeline with application logs: they need
// their own routing, retention and delivery guarantees. NewLoggerProvider
// returns an SDK LoggerProvider of its own (never the global one) configured
// from the standard OTLP environment:
//
//   - OTEL_EXPORTER_OTLP_LOGS_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL:
//     "http/protobuf" (default) or "grpc";
//   - OTEL_EXPORTER_OTLP_LOGS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT,
//     OTEL_EXPORTER_OTLP_*_HEADERS, _TIMEOUT, _INSECURE, _CERTIFICATE and
//     _COMPRESSION, as read by the OTLP exporters themselves;
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES for the resource;
//   - OTEL_BLRP_* for the batch processor.
//
// Typical use:
//
//	lp, err := auditotlp.NewLoggerProvider(ctx)
//	if err != nil { ... }
//	defer lp.Shutdown(context.Background()) // flushes pending audit records
//	sink, _ := auditlog.NewOTelSink(lp)
//	auditlog.Register(sink)
//
// # API
//
// [NewLoggerProvider] and its options, [Stats] and [ExportStats] (what was
// exported, dropped and failed), [NewCountingExporter], [ExportError].
package auditotlp
