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
from servicekit.testing import (
    ServiceProcess,
    TansuBroker,
    WorkerProcess,
    database_url,
    drop_postgres_database,
    eventually,
    postgres_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

PASSWORD = "Un mot de passe de test assez long 42"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
EXTRACT = "PS_LibreAcces_Personne_activite.txt"


@pytest.fixture
def broker():
    with TansuBroker() as running:
        yield running


def start_service(package, broker, tmp_path, **env):
    """A service under gunicorn with its worker, on its own database, events bound for Tansu."""
    url = database_url(tmp_path, f"{package}_directory_feed")
    service = ServiceProcess(package, env={}, log_path=tmp_path / f"{package}.log")
    service.env.update(
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_hex(32),
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        LOG_LEVEL="WARNING",
        **env,
    )
    service.database_url = url
    return service


def running(service, tmp_path):
    """Run the service and its worker until the test ends; drop its PostgreSQL database after."""
    try:
        with service, WorkerProcess(service, log_path=tmp_path / f"{service.package}-worker.log"):
            yield service
    finally:
        if postgres_url():
            drop_postgres_database(service.database_url)


@pytest.fixture
def identity(broker, tmp_path):
    service = start_service("identity", broker, tmp_path)
    service.env["OIDC_ISSUER"] = service.url
    yield from running(service, tmp_path)


@pytest.fixture
def directory(broker, identity, tmp_path):
    service = start_service(
        "directory",
        broker,
        tmp_path,
        OIDC_ISSUER=identity.url,
        OIDC_JWKS_URL=identity.url + "/jwks.json",
        IMPORT_DIR=str(tmp_path / "imports"),
    )
    yield from running(service, tmp_path)


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
def cardiologist(identity, national_extract):
    """The extract's first RPPS professional, with an account at identity under another spelling."""
    rpps, family, given = first_rpps_professional(national_extract[1])
    secret = pyotp.random_base32()
    identity.flask(
        *("user", "create", "jl.francois", "--role", "clinician", "--given-name", "J.-L."),
        *("--family-name", "Francois", "--rpps", rpps, "--totp-secret", secret),
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
    identity, directory, national_extract, cardiologist, identity_db, tmp_path
):
    header, lines = national_extract
    directory.flask("import", snapshot(tmp_path, "first", header, lines))

    def linked():
        account = identity_db.account("jl.francois")
        names = (account.given_name, account.family_name)
        return account if names == (cardiologist["given"], cardiologist["family"]) else None

    account = eventually(linked, timeout=60, message="identity did not link the account")
    assert (account.rpps, account.disabled) == (cardiologist["rpps"], False)
    assert sign_in(identity, "jl.francois", cardiologist["totp"]).status_code == 302
    assert identity_db.open_sessions(account.id) == 1

    remaining = [line for line in lines if line.split("|")[1] != cardiologist["rpps"]]
    assert 0 < len(remaining) < len(lines)
    directory.flask("import", snapshot(tmp_path, "newer", header, remaining))

    eventually(
        lambda: identity_db.account("jl.francois").disabled,
        timeout=60,
        message="identity did not disable the account of the deactivated practitioner",
    )
    assert identity_db.open_sessions(account.id) == 0
    # The next TOTP step: the refusal is the disabled account's, not a replayed code's.
    assert sign_in(identity, "jl.francois", cardiologist["totp"], 1).status_code == 401
