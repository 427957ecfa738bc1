#!/usr/bin/env python3
"""Sends two hours of one service's requests through the real OpenTelemetry Python SDK.

Service `web`, server spans timed explicitly: the hour before the last hour (baseline) and
the last hour (current), requests spread evenly over the middle 50 minutes of each hour (so
that no request sits on a window's edge), durations cycling through a fixed spread so every
run sends the same data. What changes between the hours:

    GET /cart   200 + 200 requests, 40 % slower now            -> a regression
    POST /pay   212 + 198 requests, 38 % faster now, errors up  -> an improvement
    GET /home   150 + 150 requests, unchanged                   -> no change
    GET /rare     5 +   5 requests, 3x slower                   -> too few to tell

With `runs`, two short runs five minutes apart instead, as a developer makes them before
and after a change: 82 requests of GET /cart over 41 s, 15 minutes ago, then 82 more
40 % slower, 9 minutes ago (both inside the last hour); `runs HOURS` sends them that many
hours earlier still (a day's work looked at the next morning). One process sends both.

    python3 tests/otel/send_regression.py http://127.0.0.1:4318/v1/traces [runs [HOURS]]
"""
import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

MINUTE = 60 * 10**9
HOUR = 60 * MINUTE
MS = 10**6
SPREAD_MS = [200 + 7 * i for i in range(40)]

tp = TracerProvider(resource=Resource.create({"service.name": "web"}))
tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1]), max_export_batch_size=512))
tracer = tp.get_tracer("vitals-regression-test")
now = time.time_ns()
baseline_start, current_start = now - 2 * HOUR, now - HOUR


def requests(name, start, count, scale_percent, error_every=0):
    for i in range(count):
        begin = start + 5 * MINUTE + i * 50 * MINUTE // count
        took = SPREAD_MS[i % len(SPREAD_MS)] * scale_percent // 100 * MS
        span = tracer.start_span(name, kind=SpanKind.SERVER, start_time=begin)
        if error_every and i % error_every == 0:
            span.set_status(Status(StatusCode.ERROR, "declined"))
        span.end(end_time=begin + took)


if len(sys.argv) > 2 and sys.argv[2] == "runs":
    earlier = int(sys.argv[3]) * HOUR if len(sys.argv) > 3 else 0
    for start, scale in [(now - earlier - 15 * MINUTE, 100), (now - earlier - 9 * MINUTE, 140)]:
        for i in range(82):
            begin = start + i * 500 * MS
            span = tracer.start_span("GET /cart", kind=SpanKind.SERVER, start_time=begin)
            span.end(end_time=begin + SPREAD_MS[i % len(SPREAD_MS)] * scale // 100 * MS)
    tp.shutdown()
    print("sent")
    sys.exit(0)

requests("GET /cart", baseline_start, 200, 100)
requests("GET /cart", current_start, 200, 140)
requests("POST /pay", baseline_start, 212, 100, error_every=100)
requests("POST /pay", current_start, 198, 62, error_every=10)
requests("GET /home", baseline_start, 150, 100)
requests("GET /home", current_start, 150, 100)
requests("GET /rare", baseline_start, 5, 100)
requests("GET /rare", current_start, 5, 300)
tp.force_flush()
tp.shutdown()
print("sent")
