#!/usr/bin/env python3
"""Sends a small Flask-style shop's traffic through the real OpenTelemetry Python SDK.

Four instrumented services (frontend, orders, inventory, pricing) and an uninstrumented
PostgreSQL, each service with its own TracerProvider and resource, as separate processes
would have; spans timed explicitly so that every run sends the same data:

    GET /orders      20 requests. frontend calls orders over HTTP (the client span waits
                     60 ms on the network and the peer's queue); orders' handler
                     (shop/orders.py:42, list_orders) runs the parameterized
                     `select sku, qty from order_items where order_id = %s` 15 times one
                     after another (an N+1; the arguments differ and are not recorded),
                     then asks inventory for stock. Request 7 is the slowest.
    POST /checkout    5 requests. frontend calls pricing, then orders' place_order
                     (shop/orders.py:80) inserts the order once. No N+1.

Exported with the SDK's OTLP/HTTP protobuf exporter to the endpoint given as the first
argument. Prints the trace ids of the GET /orders requests, slowest first.

    python3 tests/otel/send_shop.py http://127.0.0.1:4318/v1/traces
"""
import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, set_span_in_context

endpoint = sys.argv[1]
MS = 10**6

providers = {}
for name in ["frontend", "orders", "inventory", "pricing"]:
    tp = TracerProvider(resource=Resource.create({"service.name": name, "service.version": "1.4.2"}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    providers[name] = tp
tracer = {name: tp.get_tracer("shop") for name, tp in providers.items()}


def span(service, name, kind, start, took, parent=None, attributes=None):
    """A finished span of `service` from `start` lasting `took` ns; returns (span, end)."""
    context = set_span_in_context(parent) if parent is not None else None
    s = tracer[service].start_span(name, context=context, kind=kind, start_time=start, attributes=attributes or {})
    s.end(end_time=start + took)
    return s


def http_client(service, parent, start, took, host, port, path):
    return span(service, "GET", SpanKind.CLIENT, start, took, parent, {
        "http.request.method": "GET",
        "url.full": "http://%s:%d%s" % (host, port, path),
        "server.address": host,
        "server.port": port,
        "http.response.status_code": 200,
    })


now = time.time_ns() - 10 * 60 * 10**9
order_ids = []
for n in range(20):
    start = now + n * 3 * 10**9
    query_ms = 3 if n != 7 else 6
    queries = 15
    handler_ms = 4 + queries * (query_ms + 1) + 12
    client_ms = handler_ms + 60
    total_ms = client_ms + 8
    root = tracer["frontend"].start_span("GET /orders", kind=SpanKind.SERVER, start_time=start, attributes={
        "http.request.method": "GET", "http.route": "/orders", "code.file.path": "shop/frontend/views.py",
        "code.line.number": 12, "code.function.name": "orders_page",
    })
    call = tracer["frontend"].start_span("GET", context=set_span_in_context(root), kind=SpanKind.CLIENT,
                                         start_time=start + 2 * MS, attributes={
        "http.request.method": "GET", "url.full": "http://orders:8082/orders?user=%d" % (100 + n),
        "server.address": "orders", "server.port": 8082, "http.response.status_code": 200,
    })
    handler_start = start + 2 * MS + 40 * MS
    handler = tracer["orders"].start_span("GET /orders", context=set_span_in_context(call), kind=SpanKind.SERVER,
                                          start_time=handler_start, attributes={
        "http.request.method": "GET", "http.route": "/orders", "code.file.path": "shop/orders.py",
        "code.line.number": 42, "code.function.name": "list_orders",
    })
    at = handler_start + 4 * MS
    for q in range(queries):
        span("orders", "SELECT shop", SpanKind.CLIENT, at, query_ms * MS, handler, {
            "db.system.name": "postgresql", "db.namespace": "shop", "db.operation.name": "SELECT",
            "db.query.text": "select sku, qty from order_items where order_id = %s",
            "server.address": "postgres", "server.port": 5432,
        })
        at += (query_ms + 1) * MS
    stock = http_client("orders", handler, at, 10 * MS, "inventory", 8083, "/stock")
    span("inventory", "GET /stock", SpanKind.SERVER, at + 1 * MS, 8 * MS, stock, {"http.route": "/stock"})
    handler.end(end_time=handler_start + handler_ms * MS)
    call.end(end_time=start + 2 * MS + client_ms * MS)
    root.end(end_time=start + total_ms * MS)
    order_ids.append((total_ms, format(root.get_span_context().trace_id, "032x")))

for n in range(5):
    start = now + 70 * 10**9 + n * 3 * 10**9
    root = tracer["frontend"].start_span("POST /checkout", kind=SpanKind.SERVER, start_time=start, attributes={
        "http.request.method": "POST", "http.route": "/checkout",
    })
    price = http_client("frontend", root, start + 1 * MS, 20 * MS, "pricing", 8084, "/quote")
    span("pricing", "GET /quote", SpanKind.SERVER, start + 2 * MS, 17 * MS, price, {"http.route": "/quote"})
    place = http_client("frontend", root, start + 22 * MS, 30 * MS, "orders", 8082, "/orders/new")
    handler = tracer["orders"].start_span("POST /orders/new", context=set_span_in_context(place),
                                          kind=SpanKind.SERVER, start_time=start + 23 * MS, attributes={
        "code.file.path": "shop/orders.py", "code.line.number": 80, "code.function.name": "place_order",
    })
    span("orders", "INSERT shop", SpanKind.CLIENT, start + 24 * MS, 5 * MS, handler, {
        "db.system.name": "postgresql", "db.namespace": "shop",
        "db.query.text": "insert into orders (user_id, total) values (%s, %s)",
    })
    handler.end(end_time=start + 50 * MS)
    root.end(end_time=start + 55 * MS)

for tp in providers.values():
    tp.shutdown()
for _, trace_id in sorted(order_ids, reverse=True):
    print(trace_id)
