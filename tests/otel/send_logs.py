#!/usr/bin/env python3
"""Logs a checkout through the real OpenTelemetry Python SDK's logs bridge.

Python's `logging` with the SDK's LoggingHandler, as an application adds it: records
logged inside spans carry their trace and span ids; one is logged outside any span. The
payment fails in a project file (`shop/payment.py` under the folder given as the third
argument, which the test writes): the span records the exception (an `exception` event
with its stack trace) and `logger.exception` logs it. Spans and logs go to the receiver
at the first argument over OTLP/HTTP (`http`, the default) or OTLP/gRPC (`grpc`).
Prints the trace id.

    python3 tests/otel/send_logs.py http://127.0.0.1:4318 http PROJECT
    python3 tests/otel/send_logs.py http://127.0.0.1:4317 grpc PROJECT
"""
import logging
import sys

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

endpoint, protocol, project = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, project)
from shop import payment  # noqa: E402  (the project's code, found once its folder is on the path)

if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    span_exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
    log_exporter = OTLPLogExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    span_exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces")
    log_exporter = OTLPLogExporter(endpoint=endpoint + "/v1/logs")

resource = Resource.create({"service.name": "shop-" + protocol})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))

logger = logging.getLogger("shop")
logger.setLevel(logging.INFO)
logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
tracer = tracer_provider.get_tracer("vitals-test")

logger.info("cache warmed before any request")
with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
    logger.info("cart holds %d items", 3)
    try:
        with tracer.start_as_current_span("Charge") as charge:
            logger.warning("card needs a second try")
            payment.charge(42)
    except ValueError:
        logger.exception("payment failed")
print(format(root.get_span_context().trace_id, "032x"))

tracer_provider.force_flush()
logger_provider.force_flush()
tracer_provider.shutdown()
logger_provider.shutdown()
