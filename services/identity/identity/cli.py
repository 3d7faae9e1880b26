"""`flask --app identity user ...`: accounts from the command line (first admin, demo seeds)."""

import sys

import click
from flask.cli import AppGroup
from servicekit import db

from identity import passwords, service
from identity.models import ROLES

user_cli = AppGroup("user", help="Manage accounts.")


@user_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), help="Repeatable.")
@click.option("--given-name", required=True)
@click.option("--family-name", required=True)
@click.option("--email", default=None)
@click.option("--rpps", default=None, help="11-digit RPPS number.")
@click.option("--totp-secret", default=None, help="Base32 TOTP secret (demo seeds).")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password on stdin.")
def create_user_command(
    username, roles, given_name, family_name, email, rpps, totp_secret, password_stdin
):
    """Create an account and print its TOTP provisioning URI."""
    from identity.api import NewUser

    password = sys.stdin.readline().rstrip("\r\n")
    fields = {
        "username": username,
        "given_name": given_name,
        "family_name": family_name,
        "email": email,
        "rpps": rpps,
        "roles": list(roles),
        "password": password,
    }
    try:
        valid = NewUser.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValueError as exc:
        raise click.ClickException(f"invalid account: {_first_problem(exc)}") from None
    try:
        with db.sessions() as db_session:
            _user, uri = service.create_user(
                db_session, "cli", totp_secret=totp_secret, **valid.model_dump()
            )
    except service.AccountError as exc:
        raise click.ClickException(f"{username}: {exc}") from None
    except (passwords.WeakPassword, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(uri)


def _first_problem(exc):
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors(include_url=False, include_input=False)[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def init_app(app):
    """Register the `user` command group."""
    app.cli.add_command(user_cli)
