"""Prometheus metrics: request counts and latency per endpoint, in gunicorn multiprocess mode.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR must name an empty folder shared by the workers; the
/metrics view then aggregates every worker's figures.
"""

import os
import time

from flask import Blueprint, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

bp = Blueprint("servicekit_metrics", __name__)

REQUESTS = Counter(
    "enrs_http_requests_total", "HTTP requests served", ["service", "method", "endpoint", "status"]
)
LATENCY = Histogram(
    "enrs_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter(
    "enrs_events_published_total", "Events the relay gave to the broker", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "enrs_events_consumed_total", "Events handled by the service's consumer", ["service", "type"]
)
EVENTS_DEAD_LETTERED = Counter(
    "enrs_events_dead_lettered_total", "Events sent to a dead-letter topic", ["service", "type"]
)


def _start_timer():
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.pop("metrics_started", None)
    if started is None:
        return response
    from flask import current_app

    service = current_app.name
    endpoint = request.endpoint or "unmatched"
    LATENCY.labels(service, request.method, endpoint).observe(time.perf_counter() - started)
    REQUESTS.labels(service, request.method, endpoint, str(response.status_code)).inc()
    return response


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@bp.get("/metrics")
def metrics():
    """The service's metrics in the Prometheus text format."""
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app):
    """Time and count every request of the app."""
    app.before_request(_start_timer)
    app.after_request(_observe)
