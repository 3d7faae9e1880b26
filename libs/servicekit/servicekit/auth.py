"""Access-token verification for every service: RS256 JWTs from identity, keys from its JWKS.

The verifier accepts only RS256, requires iss, aud, exp, iat and sub, refuses tokens that carry
their own key material (jku, x5u, jwk, x5c headers are never followed: such a token is refused)
and accepts only access tokens (header typ "at+jwt", RFC 9068), so an ID token is refused.
An unknown kid refetches the JWKS once, at most every JWKS_MIN_REFRESH seconds.

A token that passed every check is remembered (bounded LRU keyed by the exact token string and
the expected type) so that the same token presented again skips the signature and parsing work;
on every hit exp and nbf are checked again, and the key must still be the one it was verified
with. A failure is never remembered, and a changed character makes another string, so a tampered
token always goes through the full verification.
"""

import base64
import binascii
import functools
import json
import logging
import re
import threading
import time
from collections import OrderedDict

import jwt
from flask import current_app, g, request
from jwt.api_jws import PyJWS
from jwt.utils import base64url_decode, base64url_encode

from servicekit.errors import ServiceError

log = logging.getLogger(__name__)

EXTENSION = "servicekit.auth"
ALGORITHMS = ["RS256"]
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JWT header type, not a secret
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c")
JWKS_MIN_REFRESH = 10.0
LEEWAY = 30
# Verified tokens remembered per process: a service sees the same token on every call a client
# makes in the token's few minutes of life. Bounded in number and in time.
CLAIMS_CACHE_SIZE = 2048
CLAIMS_CACHE_SECONDS = 300


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or meant for someone else."""


class KeySet:
    """The issuer's public keys by kid, fetched from its JWKS URL, refreshed on an unknown kid."""

    def __init__(self, jwks_url, timeout=5):
        self._client = jwt.PyJWKClient(
            jwks_url, cache_keys=False, cache_jwk_set=False, timeout=timeout
        )
        self._keys = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def key(self, kid):
        """The key for kid, refetching the JWKS once when kid is unknown."""
        if kid not in self._keys:
            self._refresh()
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidToken("the token is signed with an unknown key") from None

    def _refresh(self):
        with self._lock:
            if time.monotonic() - self._fetched_at < JWKS_MIN_REFRESH and self._keys:
                return
            try:
                jwk_set = self._client.get_jwk_set(refresh=True)
            except jwt.PyJWKClientError as exc:
                log.warning("JWKS could not be fetched", extra={"error": str(exc)})
                raise InvalidToken("the signing keys cannot be fetched") from exc
            self._keys = {key.key_id: key.key for key in jwk_set.keys if key.key_id}
            self._fetched_at = time.monotonic()


def _peek_header(token):
    """The token's header, read only to pick the key: jwt.decode then checks the whole token.

    PyJWT's own header reader validates every character of the token, which doubles the cost of a
    verification when jwt.decode does it again.
    """
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidToken("the token is malformed") from exc
    if not isinstance(header, dict):
        raise InvalidToken("the token is malformed")
    return header


def _is_time(value):
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _current_key(keys, kid):
    """The key kid names now, or None when the issuer no longer publishes it."""
    try:
        return keys.key(kid)
    except InvalidToken:
        return None


# A segment of a compact JWS (RFC 7515 section 7.1): base64url without padding.
_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")


class _CompactJWS(PyJWS):
    """PyJWS whose segments are checked by one regular expression.

    PyJWT checks each character of a segment against the base64url alphabet in a Python loop
    (against GHSA-hxm8-2xgr-2p9m), which costs about as much as the RSA signature check. This
    check is the same test run in C, stricter only in refusing padding, which a compact JWS does
    not carry (our issuer never writes it); the canonical-form check is PyJWT's own.
    """

    @staticmethod
    def _decode_base64url_segment(segment, name):
        if len(segment) % 4 == 1 or _SEGMENT.fullmatch(segment) is None:
            raise jwt.DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(segment)
        except (TypeError, binascii.Error) as exc:
            raise jwt.DecodeError(f"Invalid {name} padding") from exc
        if base64url_encode(decoded) != segment:
            raise jwt.DecodeError(f"Invalid {name} padding")
        return decoded


class _Decoder(jwt.PyJWT):
    """jwt.decode, with the segment check above."""

    def __init__(self):
        super().__init__()
        self._jws = _CompactJWS(options=self._get_sig_options())


JWT_DECODER = _Decoder()


class VerifiedClaims:
    """Claims of tokens that passed full verification, most recently used first, bounded.

    An entry is given back only while its token is still within exp / nbf (same leeway as the
    full check), younger than `seconds`, and its kid still names the very key that verified it
    (a key dropped from the issuer's set, or replaced, sends the token to a full verification).
    """

    def __init__(self, size=CLAIMS_CACHE_SIZE, seconds=CLAIMS_CACHE_SECONDS, clock=time.time):
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cache_key, keys):
        """The remembered claims (a copy) for cache_key, None to verify in full, or InvalidToken."""
        with self._lock:
            entry = self._entries.get(cache_key)
            if entry is not None:
                self._entries.move_to_end(cache_key)
        if entry is None:
            return None
        claims, kid, key, stored_at = entry
        now = self.clock()
        if now - stored_at >= self.seconds or _current_key(keys, kid) is not key:
            self._forget(cache_key)
            return None
        if claims["exp"] <= now - LEEWAY or claims.get("nbf", 0) > now + LEEWAY:
            self._forget(cache_key)
            raise InvalidToken("the token is not valid: it has expired")
        return dict(claims)

    def put(self, cache_key, claims, kid, key):
        """Remember claims of a token verified with key (kid)."""
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if self.size <= 0 or exp is None or not (_is_time(exp) and _is_time(nbf)):
            return
        with self._lock:
            self._entries[cache_key] = (dict(claims), kid, key, self.clock())
            self._entries.move_to_end(cache_key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def _forget(self, cache_key):
        with self._lock:
            self._entries.pop(cache_key, None)

    def clear(self):
        with self._lock:
            self._entries.clear()

    def __len__(self):
        return len(self._entries)


class TokenVerifier:
    """Verifies access tokens issued by one issuer for one audience."""

    def __init__(self, issuer, audience, keys, cache=None):
        self.issuer = issuer
        self.audience = audience
        self.keys = keys  # anything with key(kid) -> public key, or InvalidToken
        self.cache = cache if cache is not None else VerifiedClaims()

    def verify(self, token, expected_type=ACCESS_TOKEN_TYPE):
        """The token's claims, or InvalidToken."""
        if not isinstance(token, str):
            raise InvalidToken("the token is malformed")
        cache_key = (token, expected_type)
        claims = self.cache.get(cache_key, self.keys)
        if claims is not None:
            return claims
        header = _peek_header(token)
        self._check_header(header, expected_type)
        key = self.keys.key(header["kid"])
        try:
            claims = JWT_DECODER.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        self.cache.put(cache_key, claims, header["kid"], key)
        return claims

    @staticmethod
    def _check_header(header, expected_type):
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("the token's algorithm is not allowed")
        if any(name in header for name in FORBIDDEN_HEADERS):
            raise InvalidToken("the token carries key material in its header")
        if not isinstance(header.get("kid"), str):
            raise InvalidToken("the token has no key id")
        if expected_type and str(header.get("typ", "")).lower() != expected_type:
            raise InvalidToken("the token is not an access token")


def verifier(app=None):
    """The TokenVerifier of the given (or current) app."""
    return (app or current_app).extensions[EXTENSION]


def _bearer_token():
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(message):
    return ServiceError(message, 401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def current_claims():
    """The verified claims of the request's bearer token, or a 401 ServiceError."""
    if "claims" in g:
        return g.claims
    token = _bearer_token()
    if token is None:
        raise ServiceError(
            "Authentication is required.", 401, headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        g.claims = verifier().verify(token)
    except InvalidToken as exc:
        log.info("token refused", extra={"reason": str(exc)})
        raise _unauthorized("The access token is not valid.") from exc
    return g.claims


def has_role(claims, roles):
    """True when the claims hold at least one of roles."""
    return bool(set(roles) & set(claims.get("roles") or []))


def has_scopes(claims, scopes):
    """True when the claims hold every scope of scopes."""
    return set(scopes) <= set(str(claims.get("scope", "")).split())


def require(roles=(), scopes=()):
    """Decorator: a valid access token, with one of `roles` (if given) and all `scopes`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            claims = current_claims()
            if roles and not has_role(claims, roles):
                raise ServiceError(
                    "Your roles do not allow this.", 403, {"required_roles": sorted(roles)}
                )
            if scopes and not has_scopes(claims, scopes):
                raise ServiceError(
                    "The token lacks a required scope.", 403, {"required_scopes": sorted(scopes)}
                )
            return view(*args, **kwargs)

        return wrapped

    return decorator


def init_app(app, keys=None):
    """Create the app's verifier from OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL.

    `keys` replaces the JWKS fetch: identity verifies its own tokens from its own key store.
    """
    issuer = app.config["OIDC_ISSUER"]
    if keys is None:
        jwks_url = app.config.get("OIDC_JWKS_URL") or issuer.rstrip("/") + "/jwks.json"
        keys = KeySet(jwks_url)
    app.extensions[EXTENSION] = TokenVerifier(issuer, app.config["OIDC_AUDIENCE"], keys)
