"""identity run for real (gunicorn, two workers): accounts from the CLI, sign-in over HTTP and
in Chromium, lockout and its state shared by every worker."""

import re
from pathlib import Path

import pyotp
import pytest
import requests
from servicekit.testing import ServiceProcess, free_port, skip_or_fail

pytestmark = pytest.mark.slow

SECRET = "KRUGS4ZANFZSAYLOEBSW4Y3SPFYHIZLE"
PASSWORD = "une phrase de passe assez longue"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _create_account(process, username):
    return process.flask(
        *("user", "create", username, "--role", "stroke-neurologist"),
        *("--given-name", "Inès", "--family-name", "Haddad", "--totp-secret", SECRET),
        "--password-stdin",
        input=PASSWORD + "\n",
    )


@pytest.fixture(scope="module")
def identity_service(database, tmp_path_factory):
    """identity under gunicorn with two workers, and three neurologists created by the CLI."""
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
            for username in ("ines.haddad", "marc.petit", "lea.moreau"):
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


@pytest.fixture(scope="module")
def chromium():
    """The system's Chromium, driven by Playwright (never downloaded)."""
    if not CHROMIUM.exists():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_a_neurologist_signs_in_with_the_keyboard_in_chromium(identity_service, chromium):
    from playwright.sync_api import expect

    context = chromium.new_context(locale="fr-FR")
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto(identity_service.url + "/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill("lea.moreau")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_label("Code à usage unique (6 chiffres)").fill(pyotp.TOTP(SECRET).now())
    page.get_by_label("Code à usage unique (6 chiffres)").press("Enter")
    expect(page.get_by_role("heading", name="Session ouverte")).to_be_visible()
    brand_weight = page.locator(".brand").evaluate("node => getComputedStyle(node).fontWeight")
    context.close()
    assert brand_weight == "600", "the stylesheet is blocked"
    assert problems == [], "the page breaks its own Content-Security-Policy"
