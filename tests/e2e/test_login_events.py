"""Sign-in events cross the real broker: identity's web process writes them to its outbox, its
worker relays them to Kafka, and a broker outage delays them without losing or repeating any."""

import re
import secrets
import time

import pyotp
import pytest
import requests
import sqlalchemy as sa
from servicekit.testing import (
    ServiceProcess,
    TansuBroker,
    WorkerProcess,
    database_url,
    drop_postgres_database,
    eventually,
    postgres_url,
    read_events,
)

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

TOPIC = "enrs.identity"
LOGGED_IN = "fr.enrs.identity.user.logged-in"
PASSWORD = "Un mot de passe de test assez long 42"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def broker():
    """Tansu on a loopback port, stoppable and restartable on the same port."""
    with TansuBroker() as running:
        yield running


@pytest.fixture
def identity(broker, tmp_path):
    """identity under gunicorn, its events bound for the test broker."""
    url = database_url(tmp_path, "identity_events")
    service = ServiceProcess("identity", env={}, workers=2, log_path=tmp_path / "identity.log")
    service.env.update(
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_hex(32),
        OIDC_ISSUER=service.url,
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        LOG_LEVEL="WARNING",
    )
    service.database_url = url
    try:
        with service:
            yield service
    finally:
        if postgres_url():
            drop_postgres_database(url)


@pytest.fixture
def worker(identity, tmp_path):
    """identity's worker: relays the outbox to the broker."""
    with WorkerProcess(identity, log_path=tmp_path / "worker.log") as running:
        yield running


def add_account(identity, username, given_name, family_name, role):
    """An account made with identity's CLI; its authenticator."""
    secret = pyotp.random_base32()
    identity.flask(
        *("user", "create", username, "--role", role, "--given-name", given_name),
        *("--family-name", family_name, "--totp-secret", secret, "--password-stdin"),
        input=PASSWORD + "\n",
    )
    return pyotp.TOTP(secret)


@pytest.fixture
def gp(identity):
    """Dr Marc Dubois, a GP."""
    return add_account(identity, "marc.dubois", "Marc", "Dubois", "clinician")


@pytest.fixture
def neurologist(identity):
    """Dr Sophie Garnier, on the stroke rota; her sign-ins mark the end of a stream."""
    return add_account(identity, "sophie.garnier", "Sophie", "Garnier", "stroke-neurologist")


def sign_in(identity, username, totp, step_offset=0):
    """One full sign-in over HTTP (form, password, TOTP code); the response.

    A code is accepted once and for one step either side of now: successive sign-ins of one
    account use the previous, current and next step, in that order.
    """
    browser = requests.Session()
    page = browser.get(identity.url + "/login", params={"next": "/"}, timeout=10)
    form = {
        "csrf_token": CSRF_FIELD.search(page.text).group(1),
        "username": username,
        "password": PASSWORD,
        "code": totp.at(time.time() + 30 * step_offset),
        "next": "/",
    }
    return browser.post(identity.url + "/login", data=form, allow_redirects=False, timeout=10)


def outbox_drained(identity):
    """Wait until the worker has handed every outbox row to the broker."""
    engine = sa.create_engine(identity.database_url)
    query = sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")

    def nothing_waits():
        with engine.connect() as connection:
            return connection.scalar(query) == 0

    try:
        eventually(nothing_waits, timeout=30, message="the outbox was not relayed")
    finally:
        engine.dispose()


def summary(events):
    return [(event.get_type().rsplit(".", 1)[-1], event.get_data()["username"]) for event in events]


def test_a_sign_in_reaches_a_consumer_as_exactly_one_cloudevent(
    identity, worker, gp, neurologist, broker
):
    assert sign_in(identity, "marc.dubois", gp).status_code == 302
    outbox_drained(identity)
    assert sign_in(identity, "sophie.garnier", neurologist).status_code == 302

    # One partition, relayed in outbox order: a repeat of the GP's event would come before the
    # neurologist's sign-in.
    events = read_events(broker.bootstrap, TOPIC, 4, timeout=30)
    assert summary(events) == [
        ("created", "marc.dubois"),
        ("created", "sophie.garnier"),
        ("logged-in", "marc.dubois"),
        ("logged-in", "sophie.garnier"),
    ]
    login = events[2]
    assert login.get_type() == LOGGED_IN
    assert login.get_source() == "/enrs/identity"
    assert len({event.get_id() for event in events}) == 4


def test_sign_ins_during_a_broker_outage_are_delivered_after_it_once_each(
    identity, worker, gp, neurologist, broker
):
    assert sign_in(identity, "marc.dubois", gp, step_offset=-1).status_code == 302
    outbox_drained(identity)
    assert summary(read_events(broker.bootstrap, TOPIC, 3, timeout=30))[-1] == (
        "logged-in",
        "marc.dubois",
    )

    broker.stop()
    assert sign_in(identity, "marc.dubois", gp, step_offset=0).status_code == 302
    assert sign_in(identity, "marc.dubois", gp, step_offset=1).status_code == 302
    broker.start()
    assert sign_in(identity, "sophie.garnier", neurologist).status_code == 302

    # The memory broker forgot its topic when it stopped: what reaches it now is what the
    # outbox still held, and the neurologist's sign-in. The topic is created again on first use,
    # possibly with several partitions: Kafka keeps the order of each key (each account's
    # events), not across accounts.
    events = read_events(broker.bootstrap, TOPIC, 3, timeout=60)
    assert sorted(summary(events)) == [
        ("logged-in", "marc.dubois"),
        ("logged-in", "marc.dubois"),
        ("logged-in", "sophie.garnier"),
    ]
    assert len({event.get_id() for event in events}) == 3
    gp_sign_ins = [e.get_time() for e in events if e.get_data()["username"] == "marc.dubois"]
    assert gp_sign_ins == sorted(gp_sign_ins)
