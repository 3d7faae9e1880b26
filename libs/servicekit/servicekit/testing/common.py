"""Small helpers every test suite uses: CI detection, free ports, polling, outbox reading."""

import http.server
import os
import socket
import threading
import time

import sqlalchemy as sa

from servicekit.models import OutboxEvent


def in_ci():
    """True when CI=true: a missing PostgreSQL, broker or browser is then a failure."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason):
    """Skip the test with a visible reason locally; fail it in CI, where nothing may be missing."""
    import pytest

    if in_ci():
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def free_port():
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emitted(session, type=None):
    """The outbox rows written so far (optionally of one event type), oldest first."""
    query = sa.select(OutboxEvent).order_by(OutboxEvent.id)
    if type:
        query = query.where(OutboxEvent.type == type)
    return list(session.scalars(query))


def eventually(check, timeout=10.0, interval=0.05, message="condition not met in time"):
    """Call check until it returns a truthy value or the deadline passes; return that value."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"{message} (after {timeout}s)") from last_error


class LoopbackServer:
    """An HTTP server on a free loopback port, serving `handler` from a thread inside `with`.

    The base of every stand-in a test puts in place of another service; `url` is its address.
    """

    def __init__(self, handler):
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
