"""`flask --app identity client ...` and `keys ...`: OAuth clients and signing keys."""

import sys
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from servicekit import db

from identity.models import ROLES
from identity.oauth import keys, tokens
from identity.oauth.models import OAuthClient, hash_secret
from identity.oauth.server import SCOPES

GRANTS = ("authorization_code", "refresh_token", "client_credentials")
MIN_SECRET_LENGTH = 32

client_cli = AppGroup("client", help="Manage OAuth / OpenID Connect clients.")
keys_cli = AppGroup("keys", help="Manage token signing keys.")
tokens_cli = AppGroup("tokens", help="Housekeeping of issued codes and tokens.")


def _check_uri(uri):
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise click.BadParameter(f"{uri!r} must be an absolute http(s) URL without fragment")
    return uri


def _check_uris(_ctx, _param, values):
    if values is None:
        return values
    if isinstance(values, str):
        return _check_uri(values)
    return tuple(_check_uri(value) for value in values)


def _check_scope(_ctx, _param, value):
    unknown = set(value.split()) - set(SCOPES)
    if unknown:
        raise click.BadParameter(f"unknown scopes: {' '.join(sorted(unknown))}")
    return " ".join(value.split())


@client_cli.command("create")
@click.argument("client_id")
@click.option("--secret-stdin", is_flag=True, help="Read the client secret on stdin.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, callback=_check_uris)
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True, callback=_check_uris)
@click.option("--backchannel-logout-uri", default=None, callback=_check_uris)
@click.option("--grant", "grants", multiple=True, required=True, type=click.Choice(GRANTS))
@click.option("--scope", default="openid profile email offline_access roles", callback=_check_scope)
@click.option(
    "--role", "roles", multiple=True, type=click.Choice(ROLES), help="For client_credentials."
)
def create_client_command(
    client_id, secret_stdin, redirect_uris, logout_uris, backchannel_logout_uri, **settings
):
    """Create a client, or update it when it exists; print its id."""
    grants = settings["grants"]
    secret = _read_secret() if secret_stdin else None
    if "authorization_code" in grants and not redirect_uris:
        raise click.UsageError("the authorization_code grant needs at least one --redirect-uri")
    if "client_credentials" in grants and secret is None:
        raise click.UsageError("the client_credentials grant needs a secret (--secret-stdin)")
    with db.sessions() as session:
        client = session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
        if client is None:
            client = OAuthClient(client_id=client_id)
            session.add(client)
        client.secret_hash = hash_secret(secret) if secret is not None else None
        client.redirect_uris = list(redirect_uris)
        client.post_logout_redirect_uris = list(logout_uris)
        client.backchannel_logout_uri = backchannel_logout_uri
        client.grant_types = list(grants)
        client.scope = settings["scope"]
        client.roles = list(settings["roles"])
    # Other processes see the change when their cached copy expires (a few seconds).
    current_app.extensions["identity.oauth"].clients.clear()
    click.echo(client_id)


def _read_secret():
    secret = sys.stdin.readline().rstrip("\r\n")
    if len(secret) < MIN_SECRET_LENGTH:
        raise click.UsageError(f"the client secret needs at least {MIN_SECRET_LENGTH} characters")
    return secret


@keys_cli.command("rotate")
def rotate_keys_command():
    """Create a new signing key; the previous ones stay published until their tokens expire."""
    with db.sessions() as session:
        row = keys.rotate(session, current_app.config["SECRET_KEY"])
        kid = row.kid
    # Other processes sign with the new key when their cached kid expires (a few seconds).
    keys.current_kid_cache(current_app).clear()
    click.echo(kid)


@tokens_cli.command("purge")
def purge_tokens_command():
    """Delete codes and tokens that expired more than a day ago (run it daily)."""
    with db.sessions() as session:
        counts = tokens.purge_expired(session)
    for table, count in counts.items():
        click.echo(f"{table}: {count} deleted")


def init_app(app):
    """Register the `client`, `keys` and `tokens` command groups."""
    app.cli.add_command(client_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(tokens_cli)
