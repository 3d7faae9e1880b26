"""identity run for real (gunicorn, two workers): accounts from the CLI, sign-in over HTTP,
lockout and its state shared by every worker."""

import re

import pyotp
import pytest
import requests
from servicekit.testing import ServiceProcess, free_port

pytestmark = pytest.mark.slow

SECRET = "KRUGS4ZANFZSAYLOEBSW4Y3SPFYHIZLE"
PASSWORD = "une phrase de passe assez longue"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _create_account(process, username):
    return process.flask(
        *("user", "create", username, "--role", "stroke-neurologist"),
        *("--given-name", "Inès", "--family-name", "Haddad", "--totp-secret", SECRET),
        "--password-stdin",
        input=PASSWORD + "\n",
    )


@pytest.fixture(scope="module")
def identity_service(database, tmp_path_factory):
    """identity under gunicorn with two workers, and two neurologists created by the CLI."""
    with database.scratch() as url:
        port = free_port()
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": "identity-process-secret-key-0123456789",
            "OIDC_ISSUER": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
        }
        process = ServiceProcess(
            "identity",
            env,
            port=port,
            workers=2,
            log_path=tmp_path_factory.mktemp("identity") / "identity.log",
            preload=True,
        )
        with process:
            for username in ("ines.haddad", "marc.petit"):
                printed = _create_account(process, username)
                assert printed.startswith(f"otpauth://totp/ENRS:{username}?secret={SECRET}")
            yield process


def _sign_in(url, username, password, code, browser=None):
    browser = browser or requests.Session()
    page = browser.get(url + "/login", params={"next": "/"}, timeout=10)
    form = {
        "csrf_token": CSRF_FIELD.search(page.text).group(1),
        "username": username,
        "password": password,
        "code": code,
        "next": "/",
    }
    return browser.post(url + "/login", data=form, allow_redirects=False, timeout=10)


def test_an_account_made_by_the_cli_signs_in_over_http(identity_service):
    browser = requests.Session()
    code = pyotp.TOTP(SECRET).now()
    answer = _sign_in(identity_service.url, "Ines.Haddad", PASSWORD, code, browser)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert "enrs_idp" in browser.cookies
    assert "Session ouverte" in browser.get(identity_service.url + "/", timeout=10).text


def test_the_lock_holds_whichever_worker_answers(identity_service):
    url = identity_service.url
    for _ in range(5):
        assert _sign_in(url, "marc.petit", "pas le bon mot de passe", "000000").status_code == 401
    locked = _sign_in(url, "marc.petit", PASSWORD, pyotp.TOTP(SECRET).now())
    assert locked.status_code == 401
    assert "Identifiant, mot de passe ou code incorrect." in locked.text


def test_the_cli_refuses_to_create_the_account_twice(identity_service):
    with pytest.raises(RuntimeError, match="already exists"):
        _create_account(identity_service, "ines.haddad")
