"""`flask --app identity user create`: accounts from the command line."""

import pyotp
import sqlalchemy as sa
from identity.models import User

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
LEA_PASSWORD = "une phrase de passe longue"


def _create(runner, username="lea.moreau", *extra, password=LEA_PASSWORD + "\n"):
    args = ["user", "create", username, "--role", "clinician", "--role", "rcp-member"]
    args += ["--given-name", "Léa", "--family-name", "Moreau", "--password-stdin", *extra]
    return runner.invoke(args=args, input=password)


def test_it_creates_an_account_and_prints_its_provisioning_uri(runner, db_session):
    result = _create(runner, "Lea.Moreau", "--rpps", "10005556667", "--totp-secret", SECRET)
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("otpauth://totp/ENRS:lea.moreau?secret=" + SECRET)
    user = db_session.scalar(sa.select(User))
    assert (user.username, user.rpps, user.roles) == (
        "lea.moreau",
        "10005556667",
        ["clinician", "rcp-member"],
    )


def test_the_account_made_with_a_known_secret_signs_in(runner, browser):
    _create(runner, "lea.moreau", "--totp-secret", SECRET)

    class Lea:
        username = "lea.moreau"
        password = LEA_PASSWORD

        @staticmethod
        def code():
            return pyotp.TOTP(SECRET).now()

    assert browser.sign_in(Lea).status_code == 302


def test_it_says_so_when_the_account_exists(runner, db_session):
    _create(runner)
    again = _create(runner)
    assert again.exit_code != 0
    assert "already exists" in again.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_it_refuses_a_short_password_and_a_bad_rpps(runner, db_session):
    assert _create(runner, password="court\n").exit_code != 0
    assert _create(runner, "lea.moreau", "--rpps", "123").exit_code != 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_it_refuses_a_secret_that_is_not_base32(runner, db_session):
    result = _create(runner, "lea.moreau", "--totp-secret", "not base32!")
    assert result.exit_code != 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
