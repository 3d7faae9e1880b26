"""RFC 7009 token revocation: refresh tokens (with their chain) and access tokens by jti."""

import sqlalchemy as sa
from authlib.oauth2.rfc7009 import RevocationEndpoint
from servicekit import db
from servicekit.models import utcnow

from identity.oauth import tokens
from identity.oauth.models import IssuedAccessToken, RefreshToken, token_hash


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")

    def query_token(self, token_string, token_type_hint):
        finders = [self._refresh_token, self._access_token]
        if token_type_hint == "access_token":  # noqa: S105 - a hint name
            finders.reverse()
        for find in finders:
            found = find(token_string)
            if found is not None:
                return found
        return None

    @staticmethod
    def _refresh_token(token_string):
        query = sa.select(RefreshToken).where(RefreshToken.token_hash == token_hash(token_string))
        return db.session().scalar(query)

    @staticmethod
    def _access_token(token_string):
        from identity.oauth.server import decode_own_token

        claims = decode_own_token(token_string)
        if not claims or not claims.get("jti"):
            return None
        query = sa.select(IssuedAccessToken).where(IssuedAccessToken.jti == claims["jti"])
        return db.session().scalar(query)

    def revoke_token(self, token, request):
        if isinstance(token, RefreshToken):
            # RFC 7009 §2.1: revoking a refresh token also ends the grant behind it.
            tokens.revoke_family(db.session(), token.family_id)
        elif token.revoked_at is None:
            token.revoked_at = utcnow()
