"""TOTP second factor (pyotp, 30 s, 6 digits, one step either side); secrets encrypted at rest."""

import base64
import hmac
import time

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from identity.models import TotpDevice

ISSUER_NAME = "ENRS"
INTERVAL = 30
VALID_WINDOW = 1


def _fernet(secret_key=None):
    key = secret_key or current_app.config["SECRET_KEY"]
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"enrs identity totp secrets"
    ).derive(key.encode() if isinstance(key, str) else key)
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(secret):
    """The secret encrypted with a key derived from SECRET_KEY."""
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token):
    """The plain secret of an encrypted one; ValueError if SECRET_KEY changed."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the TOTP secret cannot be decrypted with this SECRET_KEY") from exc


def new_device(user, label, secret=None, confirmed=False):
    """A TOTP device for user with a random (or given, for demo seeds) base32 secret."""
    secret = secret or pyotp.random_base32()
    pyotp.TOTP(secret).now()  # refuses a secret that is not valid base32
    return TotpDevice(
        user_id=user.id,
        label=label,
        secret_encrypted=encrypt_secret(secret),
        confirmed=confirmed,
    )


def provisioning_uri(device, user):
    """The otpauth:// URI an authenticator app reads."""
    totp = pyotp.TOTP(decrypt_secret(device.secret_encrypted), interval=INTERVAL)
    return totp.provisioning_uri(name=user.username, issuer_name=ISSUER_NAME)


def qr_svg(uri):
    """The URI as a QR code, an inline SVG document."""
    return segno.make(uri, error="m").svg_inline(scale=4)


def secret_of(device):
    return decrypt_secret(device.secret_encrypted)


def matching_step(device, code, now=None):
    """The time step code is valid for (within one step either side), or None."""
    if not (isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret_of(device), interval=INTERVAL)
    current = int((now if now is not None else time.time()) // INTERVAL)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_code(device, code, now=None):
    """Accept code once: True and the step remembered, or False if wrong or already used."""
    step = matching_step(device, code, now)
    if step is None:
        return False
    if device.last_used_step is not None and step <= device.last_used_step:
        return False
    device.last_used_step = step
    return True
