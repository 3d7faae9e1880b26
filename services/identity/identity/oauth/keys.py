"""Signing keys: RSA key pairs with a kid, rotated by `flask --app identity keys rotate`.

The newest active key signs; a retired key stays in the JWKS until every token it signed has
expired, so verifiers never see a valid token with an unknown kid. Private keys are stored
encrypted with a key derived from SECRET_KEY.
"""

import base64
import datetime as dt
import json
import threading
import time
import uuid

import jwt
import sqlalchemy as sa
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from servicekit import db
from servicekit.auth import InvalidToken
from servicekit.models import utcnow

from identity.oauth.models import SigningKey

KEY_SIZE = 2048
# Extra time a retired key stays published, beyond the longest token lifetime.
RETENTION_MARGIN = 300
# How long a worker signs with the key it found current before looking again: well below
# RETENTION_MARGIN, so a token signed with a key just retired elsewhere still verifies.
CURRENT_KID_SECONDS = 10
EXTENSION = "identity.oauth.current_kid"

_private_keys = {}
_cache_lock = threading.Lock()


def _fernet(secret_key):
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"enrs-identity-signing-keys"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _retention_seconds(config):
    longest = max(config.get("ACCESS_TOKEN_LIFETIME", 300), config.get("ID_TOKEN_LIFETIME", 600))
    return longest + RETENTION_MARGIN


def create_key(session, secret_key):
    """A new active RSA key, added to session."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    row = SigningKey(
        kid=uuid.uuid4().hex,
        private_key_encrypted=_fernet(secret_key).encrypt(pem).decode(),
        public_key_pem=public_pem.decode(),
        active=True,
    )
    session.add(row)
    session.flush()
    with _cache_lock:
        _private_keys[row.kid] = private_key
    return row


def rotate(session, secret_key):
    """Retire every active key and create a new one, which signs from now on."""
    now = utcnow()
    for row in session.scalars(sa.select(SigningKey).where(SigningKey.active)):
        row.active = False
        row.retired_at = now
    return create_key(session, secret_key)


_NEWEST_ACTIVE = (
    sa.select(SigningKey)
    .where(SigningKey.active)
    .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
    .limit(1)
)
# Only the kid, as a Core query: a rotation by another process shows at the next token, while
# the decrypted key comes from memory without loading the row.
_KEYS = SigningKey.__table__
_NEWEST_ACTIVE_KID = (
    sa.select(_KEYS.c.kid)
    .where(_KEYS.c.active)
    .order_by(_KEYS.c.created_at.desc(), _KEYS.c.id.desc())
    .limit(1)
)


def current_key(session, secret_key):
    """The key that signs now; the first one is created on first use."""
    return session.scalar(_NEWEST_ACTIVE) or create_key(session, secret_key)


def private_key(row, secret_key):
    """The decrypted private key of a SigningKey row (kept in memory once decrypted)."""
    with _cache_lock:
        cached = _private_keys.get(row.kid)
    if cached is not None:
        return cached
    pem = _fernet(secret_key).decrypt(row.private_key_encrypted.encode())
    key = serialization.load_pem_private_key(pem, password=None)
    with _cache_lock:
        _private_keys[row.kid] = key
    return key


class CurrentKid:
    """The kid of the key that signs now, kept a few seconds in each worker.

    Looking it up was a query on every token, and the only one of a client-credentials grant.
    A rotation made in this process applies at once (the command clears this), one made by
    another process within `seconds`: tokens signed meanwhile with the previous key verify,
    since a retired key stays published until every token it signed has expired.
    """

    def __init__(self, seconds=CURRENT_KID_SECONDS, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._entry = (0.0, None)

    def get(self, load):
        """The cached kid, or load()'s answer (None, when there is no key yet, is not kept)."""
        now = self.clock()
        until, kid = self._entry
        if kid is not None and until > now:
            return kid
        kid = load()
        self._entry = (now + self.seconds, kid)
        return kid

    def clear(self):
        self._entry = (0.0, None)


def current_kid_cache(app):
    """The app's CurrentKid (one per app: each has its own database)."""
    return app.extensions.setdefault(EXTENSION, CurrentKid())


def signer(session, config):
    """(kid, private key) of the key that signs now."""
    kid = current_kid_cache(current_app).get(
        lambda: session.connection().execute(_NEWEST_ACTIVE_KID).scalar()
    )
    with _cache_lock:
        cached = _private_keys.get(kid)
    if cached is not None:
        return kid, cached
    row = current_key(session, config["SECRET_KEY"])
    return row.kid, private_key(row, config["SECRET_KEY"])


def published_keys(session, config, now=None):
    """The active keys and those retired recently enough that their tokens may still be valid."""
    since = (now or utcnow()) - dt.timedelta(seconds=_retention_seconds(config))
    query = (
        sa.select(SigningKey)
        .where(sa.or_(SigningKey.active, SigningKey.retired_at > since))
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
    )
    rows = list(session.scalars(query))
    if not any(row.active for row in rows):
        rows.insert(0, create_key(session, config["SECRET_KEY"]))
    return rows


def public_jwk(row):
    """The public JWK of a SigningKey row."""
    public_key = serialization.load_pem_public_key(row.public_key_pem.encode())
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    jwk.update({"kid": row.kid, "use": "sig", "alg": "RS256"})
    return jwk


def jwks(session, config):
    """The JSON Web Key Set identity publishes at /jwks.json."""
    return {"keys": [public_jwk(row) for row in published_keys(session, config)]}


class LocalKeySet:
    """identity's own public keys by kid, read from its database (no HTTP call to itself).

    Given to servicekit.init_app(app, token_keys=...) so identity verifies its own tokens.
    """

    def __init__(self):
        self._keys = {}
        self._lock = threading.Lock()

    def key(self, kid):
        """The public key for kid among the published keys, or InvalidToken."""
        with self._lock:
            if kid in self._keys:
                return self._keys[kid]
        with db.database().session_factory() as session:
            rows = {row.kid: row for row in published_keys(session, current_app.config)}
            session.commit()
        if kid not in rows:
            raise InvalidToken("the token is signed with an unknown key")
        key = serialization.load_pem_public_key(rows[kid].public_key_pem.encode())
        with self._lock:
            self._keys[kid] = key
        return key
