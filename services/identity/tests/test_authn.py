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
