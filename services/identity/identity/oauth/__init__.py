"""identity's OpenID Connect provider, built on Authlib.

`init_app(app)` registers the endpoints, the `client` and `keys` commands and makes identity
verify its own access tokens from its key store. The accounts side calls `session_ended` when a
login session ends and `user_disabled` when an account is disabled.
"""

from servicekit import auth

from identity.oauth.keys import LocalKeySet
from identity.oauth.logout import session_ended, user_disabled

__all__ = ["LocalKeySet", "init_app", "session_ended", "user_disabled"]


def init_app(app):
    """Attach the OpenID provider to the identity app (after servicekit.init_app)."""
    from identity.oauth import cli, endpoints, server

    server.create_server(app)
    app.register_blueprint(endpoints.bp)
    cli.init_app(app)
    verifier = auth.verifier(app)
    if app.config.get("TOKEN_KEYS") is None:
        verifier.keys = LocalKeySet()
