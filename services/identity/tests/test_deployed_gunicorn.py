"""identity under gunicorn with the deployed settings (deploy/gunicorn.conf.py): threaded
workers that keep connections alive, metrics added up across workers, a prompt graceful stop."""

import http.client
import time
from pathlib import Path

import pytest
from servicekit.testing import ServiceProcess, free_port, requests_counted

DEPLOYED_CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "gunicorn.conf.py"

pytestmark = pytest.mark.slow


def deployed_env(url, port, tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    return {
        "GUNICORN_CMD_ARGS": f"--config {DEPLOYED_CONFIG}",
        "DATABASE_URL": url,
        "SECRET_KEY": "identity-gunicorn-secret-key-0123456789",
        "OIDC_ISSUER": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }


@pytest.fixture(scope="module")
def deployed(database, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("deployed-gunicorn")
    with database.scratch() as url:
        port = free_port()
        env = deployed_env(url, port, tmp_path)
        with ServiceProcess(
            "identity", env, port=port, workers=2, preload=True, threads=None
        ) as process:
            yield process


def healthz_count(connection):
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    return requests_counted(text, "servicekit_health.healthz")


def test_the_deployed_workers_are_threaded_and_keep_connections_alive(deployed):
    connection = http.client.HTTPConnection("127.0.0.1", deployed.port, timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            # A sync worker answers "Connection: close" and closes the socket after each answer.
            assert response.getheader("Connection", "").lower() != "close"
            assert not response.will_close
        # The same socket served every request: it was never closed and reopened.
        assert connection.sock is not None
    finally:
        connection.close()


def test_metrics_add_up_the_requests_of_every_worker_over_kept_connections(deployed):
    # Several connections held open at once are spread over both workers.
    connections = [
        http.client.HTTPConnection("127.0.0.1", deployed.port, timeout=5) for _ in range(6)
    ]
    try:
        before = healthz_count(connections[0])
        for connection in connections:
            for _ in range(3):
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                assert response.status == 200
        assert healthz_count(connections[0]) == before + 18
    finally:
        for connection in connections:
            connection.close()


def test_an_idle_kept_alive_connection_does_not_hold_up_a_graceful_stop(database, tmp_path):
    with database.scratch() as url:
        port = free_port()
        process = ServiceProcess(
            "identity", deployed_env(url, port, tmp_path), port, workers=2, threads=None
        )
        process.start()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and not response.will_close
            started = time.monotonic()
            process.stop()
            stopped_after = time.monotonic() - started
        finally:
            connection.close()
            process.stop()
        assert process.process.returncode == 0
        # gunicorn's graceful_timeout is 10 s; a kept connection with no request in flight is
        # not waited for.
        assert stopped_after < 5
