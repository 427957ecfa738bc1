#!/usr/bin/env python3
"""Sends a service's requests whose spans say what they allocated, through the real
OpenTelemetry Python SDK over OTLP/HTTP, to the endpoint given as the first argument.

`reports` serves four `GET /report` requests (handler at shop/views.py:3, allocating
2 MB each). Each builds a report at shop/report.py:9 allocating 10, 20, 30 and 40 MB
(`memory.allocated` as an integer), and loads its rows at shop/report.py:4 twice,
500 kB each time (as a float, as some SDKs write numbers). Prints the trace ids, the
one that allocated most last.
"""
import sys

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

MB = 1_000_000

provider = TracerProvider(resource=Resource.create({"service.name": "reports"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1])))
tracer = provider.get_tracer("vitals-test")

for n in range(1, 5):
    with tracer.start_as_current_span("GET /report", kind=SpanKind.SERVER) as root:
        root.set_attribute("code.file.path", "shop/views.py")
        root.set_attribute("code.line.number", 3)
        root.set_attribute("memory.allocated", 2 * MB)
        with tracer.start_as_current_span("build_report") as build:
            build.set_attribute("code.filepath", "shop/report.py")
            build.set_attribute("code.lineno", 9)
            build.set_attribute("code.function", "build_report")
            build.set_attribute("memory.allocated", 10 * MB * n)
            for _ in range(2):
                with tracer.start_as_current_span("load_rows") as rows:
                    rows.set_attribute("code.filepath", "shop/report.py")
                    rows.set_attribute("code.lineno", 4)
                    rows.set_attribute("memory.allocated", 0.5 * MB)
    print(format(root.get_span_context().trace_id, "032x"))

provider.force_flush()
provider.shutdown()
