"""The helpers every suite leans on: skip-or-fail, polling with a deadline, the broker fixture."""

import pytest
from servicekit.testing import TansuBroker, eventually, skip_or_fail


def test_it_skips_a_test_whose_dependency_is_missing_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no broker"):
        skip_or_fail("no broker")


def test_it_fails_a_test_whose_dependency_is_missing_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no broker"):
        skip_or_fail("no broker")


def test_it_returns_the_first_truthy_result_while_polling():
    answers = iter([None, 0, "ready"])
    assert eventually(lambda: next(answers), timeout=5, interval=0) == "ready"


def test_it_gives_up_at_the_deadline_with_the_last_assertion():
    def never():
        raise AssertionError("still 0 rows")

    with pytest.raises(AssertionError, match="rows never came") as caught:
        eventually(never, timeout=0.2, interval=0.01, message="rows never came")
    assert "still 0 rows" in str(caught.value.__cause__)


def test_it_skips_when_the_broker_binary_is_missing(monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    broker = TansuBroker(binary=tmp_path / "no-such-tansu")
    with pytest.raises(pytest.skip.Exception, match="Tansu"), broker:
        pass
