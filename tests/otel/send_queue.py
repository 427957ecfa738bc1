#!/usr/bin/env python3
"""Sends a transaction across a simulated queue through the real OpenTelemetry Python SDK.

Two processes' worth of services, each with its own TracerProvider and resource: `shop`
publishes two orders (a PRODUCER span each, in a trace of its own per request) to the
`orders` topic of `kafka`; `billing` consumes the first order in a trace of its own, its
CONSUMER span carrying a span link to the producer span (as messaging instrumentations
do), and `ledger` takes both orders in one batch, its CONSUMER span linking to both
producer spans. Messages wait in the "queue" (a sleep) before they are consumed.

Exported over OTLP/HTTP to the endpoint given as the first argument. Prints, one a line:
`producer TRACE_ID`, `producer TRACE_ID`, `consumer TRACE_ID`, `batch TRACE_ID`, then
`wait_ms N`, the least time any message waited in the queue.

    python3 tests/otel/send_queue.py http://127.0.0.1:4318/v1/traces
"""
import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind

endpoint = sys.argv[1]
WAIT_S = 0.25


def provider(service):
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return tp


providers = {name: provider(name) for name in ("shop", "billing", "ledger")}
tracer = {name: tp.get_tracer("vitals-test") for name, tp in providers.items()}
MESSAGING = {"messaging.system": "kafka", "messaging.destination.name": "orders"}

# The queue: each message is the producer span's context, as a header would carry it.
queue = []
producer_traces = []
for order in range(2):
    with tracer["shop"].start_as_current_span("POST /orders", kind=SpanKind.SERVER) as request:
        request.set_attribute("http.route", "/orders")
        with tracer["shop"].start_as_current_span("orders publish", kind=SpanKind.PRODUCER) as publish:
            for key, value in MESSAGING.items():
                publish.set_attribute(key, value)
            publish.set_attribute("messaging.operation.type", "publish")
            queue.append(publish.get_span_context())
    producer_traces.append(request.get_span_context().trace_id)
last_produced = time.time()

time.sleep(WAIT_S)
# A new trace for each consumer (the default of messaging instrumentations that link).
with tracer["billing"].start_as_current_span(
    "orders process", kind=SpanKind.CONSUMER, links=[Link(queue[0])], context=None
) as consume:
    for key, value in MESSAGING.items():
        consume.set_attribute(key, value)
    with tracer["billing"].start_as_current_span("charge card", kind=SpanKind.INTERNAL):
        time.sleep(0.02)
consumer_trace = consume.get_span_context().trace_id

with tracer["ledger"].start_as_current_span(
    "orders process batch", kind=SpanKind.CONSUMER, links=[Link(ctx) for ctx in queue]
) as batch:
    batch.set_attribute("messaging.system", "kafka")
    batch.set_attribute("messaging.destination.name", "orders")
    batch.set_attribute("messaging.batch.message_count", len(queue))
    time.sleep(0.01)
batch_trace = batch.get_span_context().trace_id

for tp in providers.values():
    tp.force_flush()
    tp.shutdown()

for trace_id in producer_traces:
    print("producer", format(trace_id, "032x"))
print("consumer", format(consumer_trace, "032x"))
print("batch", format(batch_trace, "032x"))
print("wait_ms", int(WAIT_S * 1000))
