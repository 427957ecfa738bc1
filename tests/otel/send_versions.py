#!/usr/bin/env python3
"""Sends three releases of a shop service through the real OpenTelemetry Python SDK.

Service `shop`, each release a process of its own (a TracerProvider whose resource has
`service.version`), one after another in the past, server spans timed explicitly so every
run sends the same data:

    version  sent           POST /checkout        GET /home, GET /cart (busier, quicker)
    0.9.0    50 min ago     60 requests, 1.5x     400 + 200, unchanged
    1.0.0    40 min ago     60 requests           400 + 200
    1.1.0    30 min ago     60 requests, +33 %    400 + 200

Each release serves for five minutes. Pooled, the checkout requests stay the slowest tenth
whichever release served them: all requests together hardly move, while POST /checkout
alone is significantly slower in 1.1.0 than in 1.0.0 (and faster than in 0.9.0).

With versions named after the URL, only those are sent (a test sends one release, does
something, then sends the next).

    python3 tests/otel/send_versions.py http://127.0.0.1:4318/v1/traces [VERSION ...]
"""
import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

MINUTE = 60 * 10**9
MS = 10**6
SLOW_MS = [300 + 5 * i for i in range(40)]
QUICK_MS = [20 + i for i in range(40)]

now = time.time_ns()
only = sys.argv[2:]
for version, minutes_ago, checkout_percent in [("0.9.0", 50, 150), ("1.0.0", 40, 100), ("1.1.0", 30, 133)]:
    if only and version not in only:
        continue
    tp = TracerProvider(resource=Resource.create({"service.name": "shop", "service.version": version}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1]), max_export_batch_size=512))
    tracer = tp.get_tracer("vitals-versions-test")
    start = now - minutes_ago * MINUTE
    for name, count, spread, percent in [
        ("POST /checkout", 60, SLOW_MS, checkout_percent),
        ("GET /home", 400, QUICK_MS, 100),
        ("GET /cart", 200, QUICK_MS, 100),
    ]:
        for i in range(count):
            begin = start + i * 5 * MINUTE // count
            span = tracer.start_span(name, kind=SpanKind.SERVER, start_time=begin)
            span.end(end_time=begin + spread[i % len(spread)] * percent // 100 * MS)
    tp.shutdown()
print("sent")
