"""Identifier checks: a malformed value blocks the line, a wrong check key only warns.

Official test identities of the national directory carry invalid keys on purpose, so a key
mismatch can never be a reason to drop a professional or an organisation.
"""

import re
from dataclasses import dataclass

from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import siren, siret


@dataclass(frozen=True, slots=True)
class Finding:
    """What is wrong with one value; blocking findings reject the whole line."""

    reason: str
    blocking: bool


def reject(reason: str) -> Finding:
    """A finding that rejects the line."""
    return Finding(reason, blocking=True)


def warn(reason: str) -> Finding:
    """A finding that keeps the line and reports a warning."""
    return Finding(reason, blocking=False)


_ADELI = re.compile(r"[0-9A-Z]{9}")
_FINESS = re.compile(r"(?:\d{2}|2A|2B)\d{7}")
_POSTCODE = re.compile(r"\d{5}")
_COMMUNE = re.compile(r"(?:\d{2}|2A|2B)\d{3}")
_EMAIL = re.compile(r"[^@\s|]+@[^@\s|]+\.[^@\s|.]+")


_DOUBLED = str.maketrans("0123456789", "0246813579")
_DOUBLED_BYTES = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_valid(digits: str) -> bool:
    """Luhn check of a digit string, table-driven for the per-line path.

    Same answer as stdnum.luhn.is_valid (the tests compare them), several times faster: the
    RPPS key is checked on every line of a national-size file.
    """
    backwards = digits[::-1]
    if not backwards.isascii():  # other Unicode digits, which a regular expression's \d takes
        return sum(map(int, backwards[::2] + backwards[1::2].translate(_DOUBLED))) % 10 == 0
    # Summed as bytes, in C: each ASCII digit counts its code, 48 more than its value.
    data = backwards.encode()
    total = sum(data[::2]) + sum(data[1::2].translate(_DOUBLED_BYTES)) - 48 * len(data)
    return total % 10 == 0


def luhn_key(digits: str) -> str:
    """The Luhn check digit to append to the digits (as stdnum.luhn.calc_check_digit)."""
    backwards = ("0" + digits[::-1]) if digits else "0"
    total = sum(map(int, backwards[::2] + backwards[1::2].translate(_DOUBLED)))
    return str(-total % 10)


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def check_rpps(value: str) -> Finding | None:
    """RPPS: 11 digits whose last one is a Luhn key."""
    if not _digits(value, 11):
        return reject("RPPS mal formé : 11 chiffres attendus")
    if not luhn_valid(value):
        return warn("clé de contrôle RPPS incorrecte")
    return None


def check_adeli(value: str) -> Finding | None:
    """ADELI: 9 characters (digits, or 2A / 2B for Corsica)."""
    if not _ADELI.fullmatch(value):
        return reject("ADELI mal formé : 9 caractères attendus")
    return None


def finess_key_digits(value: str) -> str:
    """The digits the FINESS Luhn key covers: Corsica's 2A / 2B count as 20."""
    return "20" + value[2:] if value[:2] in ("2A", "2B") else value


def check_finess(value: str) -> Finding | None:
    """FINESS: 9 characters, a department (2A / 2B for Corsica) then digits, Luhn key last."""
    if not _FINESS.fullmatch(value):
        return reject("FINESS mal formé : 9 caractères attendus")
    if not luhn_valid(finess_key_digits(value)):
        return warn("clé de contrôle FINESS incorrecte")
    return None


def _check_stdnum(module, value: str, label: str, length: int) -> Finding | None:
    if not _digits(value, length):
        return reject(f"{label} mal formé : {length} chiffres attendus")
    # Fast path for the usual case, where the SIREN part and the whole number pass Luhn; any
    # other number (La Poste's establishments among them) gets stdnum's full verdict.
    if luhn_valid(value[:9]) and luhn_valid(value):
        return None
    try:
        module.validate(value)
    except InvalidChecksum:
        return warn(f"clé de contrôle {label} incorrecte")
    except ValidationError:
        return reject(f"{label} invalide")
    return None


def check_siret(value: str) -> Finding | None:
    """SIRET: 14 digits; its key (Luhn, La Poste's own rule) only warns."""
    return _check_stdnum(siret, value, "SIRET", 14)


def check_siren(value: str) -> Finding | None:
    """SIREN: 9 digits; its Luhn key only warns."""
    return _check_stdnum(siren, value, "SIREN", 9)


def check_postcode(value: str) -> Finding | None:
    """French postcode: 5 digits (a bad one only warns: it does not identify anything)."""
    if not _POSTCODE.fullmatch(value):
        return warn("code postal mal formé : 5 chiffres attendus")
    return None


def check_commune(value: str) -> Finding | None:
    """INSEE commune code: 5 characters, Corsica 2A / 2B included."""
    if not _COMMUNE.fullmatch(value):
        return warn("code commune INSEE mal formé : 5 caractères attendus")
    return None


def email_shape(value: str) -> bool:
    """Whether the value looks like an e-mail address (local@domain.tld)."""
    return _EMAIL.fullmatch(value) is not None


def check_email(value: str) -> Finding | None:
    """A contact e-mail of bad shape warns; the line stays."""
    if not email_shape(value):
        return warn("adresse e-mail mal formée")
    return None
