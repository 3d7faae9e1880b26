"""Sign-in checks below the page: same work for unknown and known usernames, lock delays."""

import datetime as dt
import statistics
import time

import pytest
from identity import authn
from servicekit import db


def _seconds_to_fail(app, username, password):
    with app.test_request_context(), db.sessions() as session:
        started = time.perf_counter()
        with pytest.raises(authn.LoginFailed):
            authn.authenticate(session, username, password, "000000", "192.0.2.10")
        return time.perf_counter() - started


def test_an_unknown_username_costs_as_much_as_a_wrong_password(app, gp):
    # Both paths verify one Argon2 hash: the answer time does not tell whether the name exists.
    _seconds_to_fail(app, "warm.up", "not the password at all")
    unknown, known = [], []
    for _ in range(5):
        unknown.append(_seconds_to_fail(app, "nobody.here", "not the password at all"))
        known.append(_seconds_to_fail(app, gp.username, "not the password at all"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2, (unknown, known)


@pytest.mark.parametrize(
    ("failures", "locked_for"),
    [(4, None), (5, 60), (6, 120), (7, 240), (11, 3600), (40, 3600)],
)
def test_the_lock_doubles_from_one_minute_up_to_one_hour(app, failures, locked_for):
    with app.app_context():
        expected = dt.timedelta(seconds=locked_for) if locked_for else None
        assert authn.lock_delay(failures) == expected


def _attempts_at(app, *ages):
    from identity.models import LoginAttempt
    from servicekit.models import utcnow

    with db.sessions(app) as session:
        for age in ages:
            session.add(LoginAttempt(client_ip="192.0.2.7", at=utcnow() - age))


def _attempt_count(app):
    import sqlalchemy as sa
    from identity.models import LoginAttempt

    with db.sessions(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt))


def test_the_worker_forgets_attempts_past_the_throttling_window_once_an_hour(app):
    window = dt.timedelta(seconds=app.config["LOGIN_IP_WINDOW_SECONDS"])
    _attempts_at(app, window + dt.timedelta(minutes=1), dt.timedelta(minutes=1))
    now = [5000.0]
    assert authn.forget_old_attempts_job in app.extensions["servicekit.worker.jobs"]
    assert authn.forget_old_attempts_job(app, clock=lambda: now[0]) == 1
    assert _attempt_count(app) == 1
    _attempts_at(app, window + dt.timedelta(minutes=2))
    now[0] += authn.FORGET_EVERY - 1
    assert authn.forget_old_attempts_job(app, clock=lambda: now[0]) == 0
    assert _attempt_count(app) == 2
    now[0] += 1
    assert authn.forget_old_attempts_job(app, clock=lambda: now[0]) == 1
    assert _attempt_count(app) == 1
