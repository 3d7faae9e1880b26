"""The directory's imports reach identity through the real broker: a practitioner's account is
linked by its RPPS number, then disabled (sessions ended) once the national extract drops them."""

import re
import secrets
import time

import pyotp
import pytest
import requests
import sqlalchemy as sa
from directory.extract import generate
from servicekit.events import codec, kafka
from servicekit.testing import (
    ServiceProcess,
    TansuBroker,
    WorkerProcess,
    database_url,
    drop_postgres_database,
    eventually,
    postgres_url,
    read_records,
)
from servicekit.testing.events import make_event

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

PASSWORD = "Un mot de passe de test assez long 42"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
EXTRACT = "PS_LibreAcces_Personne_activite.txt"


# The two services and the broker start once for the module (about a minute on a busy machine);
# each test uses its own practitioners.
@pytest.fixture(scope="module")
def broker():
    with TansuBroker() as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The module's folder for databases, logs and uploaded extracts."""
    return tmp_path_factory.mktemp("directory_to_identity")


def start_service(package, broker, workdir, **env):
    """A service under gunicorn on its own database, its events bound for Tansu."""
    url = database_url(workdir, f"{package}_directory_feed")
    service = ServiceProcess(package, env={}, log_path=workdir / f"{package}.log")
    service.env.update(
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_hex(32),
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        LOG_LEVEL="WARNING",
        **env,
    )
    service.database_url = url
    return service


def running(service, workdir):
    """Run the service and its worker until the module ends; drop its PostgreSQL database after."""
    try:
        with service, WorkerProcess(service, log_path=workdir / f"{service.package}-worker.log"):
            yield service
    finally:
        if postgres_url():
            drop_postgres_database(service.database_url)


@pytest.fixture(scope="module")
def identity(broker, workdir):
    service = start_service("identity", broker, workdir)
    service.env["OIDC_ISSUER"] = service.url
    yield from running(service, workdir)


@pytest.fixture(scope="module")
def directory(broker, identity, workdir):
    service = start_service(
        "directory",
        broker,
        workdir,
        OIDC_ISSUER=identity.url,
        OIDC_JWKS_URL=identity.url + "/jwks.json",
        IMPORT_DIR=str(workdir / "imports"),
    )
    yield from running(service, workdir)


def extract_lines(tmp_path):
    """A generated national extract (the directory's own generator): header, activity lines."""
    path = tmp_path / "generated" / EXTRACT
    path.parent.mkdir()
    generate(path, 12, seed=7)
    header, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    return header, lines


def snapshot(tmp_path, name, header, lines):
    """An extract file holding these activity lines, as a newer national snapshot would."""
    folder = tmp_path / name
    folder.mkdir()
    path = folder / EXTRACT
    path.write_text(header + "".join(lines), encoding="utf-8")
    return str(path)


def first_rpps_professional(lines):
    """(RPPS, family name, given name) of the extract's first RPPS professional."""
    cells = next(line.split("|") for line in lines if line.startswith("8|"))
    return cells[1], cells[7], cells[8]


@pytest.fixture
def national_extract(tmp_path):
    """The header and activity lines of a generated national extract."""
    return extract_lines(tmp_path)


@pytest.fixture
def listed_gp(identity, national_extract):
    """The extract's first RPPS professional (a GP), known to identity by another name."""
    rpps, family, given = first_rpps_professional(national_extract[1])
    secret = pyotp.random_base32()
    identity.flask(
        *("user", "create", "t.leroy", "--role", "clinician", "--given-name", "T."),
        *("--family-name", "Leroi", "--rpps", rpps, "--totp-secret", secret),
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    return {"rpps": rpps, "family": family, "given": given, "totp": pyotp.TOTP(secret)}


def sign_in(identity, username, totp, step_offset=0):
    """A full sign-in at identity over HTTP; the response."""
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


class IdentityDatabase:
    """Reads identity's database the way an operator would check an account."""

    def __init__(self, url):
        self.engine = sa.create_engine(url)

    def account(self, username):
        query = sa.text(
            "SELECT id, given_name, family_name, rpps, disabled FROM users WHERE username = :u"
        )
        with self.engine.connect() as connection:
            return connection.execute(query, {"u": username}).one()

    def open_sessions(self, user_id):
        query = sa.text(
            "SELECT count(*) FROM login_sessions WHERE user_id = :u AND ended_at IS NULL"
        )
        with self.engine.connect() as connection:
            return connection.scalar(query, {"u": user_id})


@pytest.fixture
def identity_db(identity):
    database = IdentityDatabase(identity.database_url)
    yield database
    database.engine.dispose()


def test_a_practitioner_dropped_from_the_national_extract_loses_their_account(
    identity, directory, national_extract, listed_gp, identity_db, tmp_path
):
    header, lines = national_extract
    directory.flask("import", snapshot(tmp_path, "first", header, lines))

    def linked():
        account = identity_db.account("t.leroy")
        names = (account.given_name, account.family_name)
        return account if names == (listed_gp["given"], listed_gp["family"]) else None

    account = eventually(linked, timeout=60, message="identity did not link the account")
    assert (account.rpps, account.disabled) == (listed_gp["rpps"], False)
    assert sign_in(identity, "t.leroy", listed_gp["totp"]).status_code == 302
    assert identity_db.open_sessions(account.id) == 1

    remaining = [line for line in lines if line.split("|")[1] != listed_gp["rpps"]]
    assert 0 < len(remaining) < len(lines)
    directory.flask("import", snapshot(tmp_path, "newer", header, remaining))

    eventually(
        lambda: identity_db.account("t.leroy").disabled,
        timeout=60,
        message="identity did not disable the account of the deactivated practitioner",
    )
    assert identity_db.open_sessions(account.id) == 0
    # The next TOTP step: the refusal is the disabled account's, not a replayed code's.
    assert sign_in(identity, "t.leroy", listed_gp["totp"], 1).status_code == 401


def publish(bootstrap, event):
    """Put a CloudEvent on its topic as a producer's relay would (binary mode, keyed by subject)."""
    message = codec.binding.to_binary(
        event, codec.FORMAT, key_mapper=lambda _event: event.get_subject().encode()
    )
    producer = kafka.producer(bootstrap)
    try:
        producer.send(
            "enrs.directory",
            value=message.value,
            key=message.key,
            headers=codec.kafka_headers(message),
        ).get(timeout=15)
    finally:
        producer.close()


def test_a_malformed_practitioner_event_goes_to_the_dead_letter_topic(identity, broker):
    malformed = make_event(
        "fr.enrs.directory.practitioner.deactivated",
        subject="practitioner-without-rpps",
        data={"id": "practitioner-without-rpps", "rpps": "1234", "family": "", "given": "X"},
    )
    publish(broker.bootstrap, malformed)

    [dead] = read_records(broker.bootstrap, "enrs.directory.dlq", 1, timeout=60)
    headers = dict(dead.headers)
    assert headers["ce_id"].decode() == malformed.get_id()
    assert headers["enrs_error"].decode().startswith("ValidationError")
