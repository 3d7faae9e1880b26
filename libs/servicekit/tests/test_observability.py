"""Request ids are echoed and carried in JSON log lines; /metrics counts requests."""

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families
from servicekit.logs import JsonFormatter

REQUEST_ID = "req-0123456789abcdef"


@pytest.fixture
def log_lines():
    """The JSON lines logged during the test, as the production handler writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous_level)


def requests_served(client, endpoint):
    text = client.get("/metrics").get_data(as_text=True)
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "enrs_http_requests_total" and sample.labels["endpoint"] == endpoint:
                total += sample.value
    return total


def test_it_echoes_a_sane_request_id(client):
    response = client.get("/healthz", headers={"X-Request-ID": REQUEST_ID})
    assert response.headers["X-Request-ID"] == REQUEST_ID


def test_it_replaces_a_request_id_that_could_forge_log_lines(client):
    forged = '", "level": "CRITICAL'
    response = client.get("/healthz", headers={"X-Request-ID": forged})
    assert response.headers["X-Request-ID"] != forged
    assert len(response.headers["X-Request-ID"]) == 32


def test_it_writes_json_log_lines_carrying_the_request_id(client, log_lines):
    client.get("/api/v1/whoami", headers={"X-Request-ID": REQUEST_ID, "Authorization": "Bearer x"})
    refused = [line for line in log_lines() if line["message"] == "token refused"]
    assert refused and refused[0]["request_id"] == REQUEST_ID
    assert refused[0]["level"] == "INFO"


def test_it_keeps_the_token_out_of_the_logs(client, tokens, log_lines):
    token = tokens.make_token(aud="another-api")
    client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert log_lines()
    assert all(token not in json.dumps(line) for line in log_lines())


def test_it_counts_requests_per_endpoint(client):
    before = requests_served(client, "servicekit_health.healthz")
    client.get("/healthz")
    client.get("/healthz")
    assert requests_served(client, "servicekit_health.healthz") == before + 2


def test_it_serves_metrics_in_the_prometheus_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "enrs_http_request_duration_seconds" in response.get_data(as_text=True)
