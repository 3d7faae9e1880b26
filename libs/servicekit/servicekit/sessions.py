"""Flask's signed-cookie sessions, with the signer built once instead of on every request.

Flask builds an itsdangerous serializer for each request, before it even looks for a cookie (a
token request carries none): tens of microseconds on every request of every service. The
serializer holds nothing but the keys and settings, so one per set of keys serves every request;
a change of SECRET_KEY or SECRET_KEY_FALLBACKS builds a new one.
"""

from flask.sessions import SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    """SecureCookieSessionInterface reusing its signing serializer while the keys stay the same."""

    def __init__(self):
        super().__init__()
        self._signer = (None, None)  # (keys, serializer), replaced as a whole

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        known, serializer = self._signer
        if known != keys:
            serializer = super().get_signing_serializer(app)
            self._signer = (keys, serializer)
        return serializer


def init_app(app):
    """Use CookieSessions unless the app chose its own session interface."""
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = CookieSessions()
