"""The kit run for real: gunicorn with two workers, multiprocess metrics and JSON logs."""

import json
from pathlib import Path

import kitapp
import pytest
import requests
from servicekit.testing import TEST_ISSUER, ServiceProcess, eventually, requests_counted

TESTS_DIR = Path(__file__).resolve().parent
REQUEST_ID = "req-gunicorn-000001"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kitapp_served(tmp_path_factory, database, jwks):
    """kitapp under gunicorn, two workers sharing a PROMETHEUS_MULTIPROC_DIR."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "PYTHONPATH": str(TESTS_DIR),
        "DATABASE_URL": database.url,
        "SECRET_KEY": "test-secret",
        "OIDC_ISSUER": TEST_ISSUER,
        "OIDC_JWKS_URL": jwks.url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "kitapp.log"
    database.migrate(kitapp.create_app({**env, "TESTING": True}))
    with ServiceProcess(
        "kitapp", env, workers=2, log_path=log_path, migrate=False, preload=True
    ) as service:
        service.log_path = log_path
        yield service


def get(url, headers=None):
    response = requests.get(url, headers=headers, timeout=5)
    return response.status_code, response.text


def healthz_count(service):
    _status, text = get(service.url + "/metrics")
    return requests_counted(text, "servicekit_health.healthz")


def test_it_adds_up_the_requests_of_every_worker(kitapp_served):
    before = healthz_count(kitapp_served)
    for _ in range(8):
        assert get(kitapp_served.url + "/healthz")[0] == 200
    assert healthz_count(kitapp_served) == before + 8


def test_it_logs_json_lines_with_the_request_id(kitapp_served):
    status, body = get(
        kitapp_served.url + "/api/v1/whoami",
        {"X-Request-ID": REQUEST_ID, "Authorization": "Bearer forged"},
    )
    assert status == 401 and json.loads(body)["error"]

    def refusal_logged():
        for line in kitapp_served.log_path.read_text().splitlines():
            if line.startswith("{") and REQUEST_ID in line:
                return json.loads(line)
        return None

    line = eventually(refusal_logged, timeout=5, message="no JSON log line with the request id")
    assert line["message"] == "token refused"
    assert line["request_id"] == REQUEST_ID
