"""The demo seed of `make run`, against identity run for real (gunicorn on loopback)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from servicekit.testing import ServiceProcess, database_url, drop_postgres_database

ROOT = Path(__file__).resolve().parents[2]
PORTAL_SECRET = "portal-secret-for-the-seed-test-0123456789"


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_demo = load("deploy/seed_demo.py", "seed_demo")
flows = load("bench/oidc_flows.py", "oidc_flows")


def luhn_valid(number):
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    url = database_url(tmp_path_factory.mktemp("seed"), "seed_identity")
    service = ServiceProcess("identity", {}, preload=True)
    service.env.update(
        DATABASE_URL=url,
        SECRET_KEY="secret-key-for-the-seed-test",
        OIDC_ISSUER=service.url,
        ENRS_PUBLIC_URL=service.url,
        PORTAL_OIDC_CLIENT_ID="portal",
        PORTAL_OIDC_CLIENT_SECRET=PORTAL_SECRET,
        PORTAL_PUBLIC_URL="http://localhost:8000",
    )
    with service:
        yield service
    if url.startswith("postgresql"):
        drop_postgres_database(url)


def seed(identity):
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/seed_demo.py"), "seed"],
        env=identity.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_physician_has_an_eleven_digit_test_rpps_with_a_valid_key():
    numbers = [persona.rpps for persona in seed_demo.PERSONAS if persona.rpps]
    assert len(numbers) == 4
    for number in numbers:
        assert len(number) == 11 and number.startswith("997") and luhn_valid(number)


def test_it_finds_a_persona_by_key_or_by_username():
    assert seed_demo.find("gp") is seed_demo.find("marc.dubois")


@pytest.mark.slow
def test_it_seeds_every_persona_once_and_can_run_again(identity):
    assert f"{len(seed_demo.PERSONAS)} account(s) created" in seed(identity)
    assert f"0 account(s) created, {len(seed_demo.PERSONAS)} already there" in seed(identity)


@pytest.mark.slow
def test_a_demo_gp_logs_in_to_the_portal_client_with_the_printed_credentials(identity):
    seed(identity)
    gp = seed_demo.find("gp")
    portal = flows.Client("portal", PORTAL_SECRET, "http://localhost:8000/auth/callback")
    account = flows.Account(gp.username, seed_demo.DEMO_PASSWORD, gp.totp_secret)
    tokens = flows.password_login(identity.url, portal, account, scope="openid profile roles")
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["access_token"] and tokens["id_token"]
