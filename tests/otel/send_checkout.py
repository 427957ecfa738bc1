#!/usr/bin/env python3
"""Sends a checkout's traces through the real OpenTelemetry Python SDK.

Three services, each with its own TracerProvider and resource, as three processes would
have; spans nested across services by propagated context, with attributes, an event and
an error. Exported to the endpoint given as the first argument with one of the SDK's
exporters, named by the third: `http` (OTLP/HTTP protobuf, the default), `grpc`
(OTLP/gRPC) or `zipkin` (Zipkin v2 JSON); the OTLP ones gzip-compress one service's
batches. Prints the trace ids it made.

    python3 tests/otel/send_checkout.py http://127.0.0.1:4318/v1/traces [count] [http]
    python3 tests/otel/send_checkout.py http://127.0.0.1:4317 3 grpc
    python3 tests/otel/send_checkout.py http://127.0.0.1:9411/api/v2/spans 3 zipkin
"""
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

endpoint = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
protocol = sys.argv[3] if len(sys.argv) > 3 else "http"


def exporter(gzip):
    if protocol == "grpc":
        from grpc import Compression
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        compression = Compression.Gzip if gzip else Compression.NoCompression
        return OTLPSpanExporter(endpoint=endpoint, insecure=True, compression=compression)
    if protocol == "zipkin":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    compression = Compression.Gzip if gzip else Compression.NoCompression
    return OTLPSpanExporter(endpoint=endpoint, compression=compression)


def provider(service, gzip=False):
    tp = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    tp.add_span_processor(BatchSpanProcessor(exporter(gzip)))
    return tp


providers = {
    "frontend": provider("frontend"),
    "checkout": provider("checkout", gzip=True),
    "payment": provider("payment"),
}
tracer = {name: tp.get_tracer("vitals-test") for name, tp in providers.items()}

for n in range(count):
    with tracer["frontend"].start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "POST")
        root.set_attribute("http.route", "/checkout")
        root.set_attribute("code.file.path", "web/handlers/checkout.py")
        root.set_attribute("code.line.number", 42)
        with tracer["checkout"].start_as_current_span("PlaceOrder", kind=SpanKind.SERVER) as place:
            place.set_attribute("order.items", 3 + n)
            for i in range(3):
                with tracer["checkout"].start_as_current_span("SELECT items", kind=SpanKind.CLIENT) as query:
                    query.set_attribute("db.system.name", "postgresql")
                    query.set_attribute("db.query.text", "SELECT * FROM items WHERE id = %d" % i)
            with tracer["payment"].start_as_current_span("Charge", kind=SpanKind.SERVER) as charge:
                charge.add_event("card.authorized", {"card.brand": "visa"})
                if n == 0:
                    charge.set_status(Status(StatusCode.ERROR, "card declined"))
                    charge.add_event("exception", {"exception.message": "card declined"})
    print(format(root.get_span_context().trace_id, "032x"))

for tp in providers.values():
    tp.force_flush()
    tp.shutdown()
