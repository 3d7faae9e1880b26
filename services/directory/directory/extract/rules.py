"""Line validation for each extract: identifiers, mandatory fields, codes against value sets.

A rule reads a line's values in its format's column order (reader.Record) and returns
`(column, Finding)` pairs in the order the checks run; the reader rejects a line on the first
blocking finding and keeps the others as warnings.
"""

from collections.abc import Callable, Sequence
from functools import lru_cache

from directory.extract import identifiers as ids
from directory.extract.formats import MSSANTE, PERSONNE_ACTIVITE, ExtractFormat
from directory.extract.valuesets import ValueSets

Issue = tuple[str, ids.Finding]
Rule = Callable[[Sequence[str], ValueSets], list[Issue]]

RPPS_TYPE = "8"
ADELI_TYPE = "0"
MAILBOX_TYPES = ("PER", "ORG", "APP", "CAB")
# Country codes the extracts use for France (INSEE 99100, and 99000 in older files).
FRANCE = ("", "99000", "99100")

_EMPTY = ids.reject("champ obligatoire vide")


def missing(values: Sequence[str], fmt: ExtractFormat) -> list[Issue]:
    """A blocking issue for each mandatory column left empty."""
    return [(column, _EMPTY) for column in fmt.mandatory if not values[fmt.position(column)]]


def person_identifier(kind: str, number: str, national: str) -> tuple[str, ids.Finding] | None:
    """Check a professional's identifier type, number and national id (type + number)."""
    if kind == RPPS_TYPE:
        finding = ids.check_rpps(number)
    elif kind == ADELI_TYPE:
        finding = ids.check_adeli(number)
    else:
        return "type", ids.reject(f"type d'identifiant inconnu : {kind} (8 RPPS ou 0 ADELI)")
    if finding is not None:
        return "number", finding
    if national and national != kind + number:
        return "national", ids.reject("identifiant national différent du type suivi du numéro")
    return None


def _code(issues: list[Issue], column: str, value: str, known: dict[str, str], what: str):
    if value and value not in known:
        issues.append((column, ids.warn(f"{what} inconnu du jeu de valeurs : {value}")))


def _check(issues: list[Issue], column: str, value: str, check) -> None:
    if value:
        finding = check(value)
        if finding is not None:
            issues.append((column, finding))


_ACTIVITY_ID_COLUMNS = {
    "type": "Type d'identifiant PP",
    "number": "Identifiant PP",
    "national": "Identification nationale PP",
}
_activity_mandatory = PERSONNE_ACTIVITE.getter(*PERSONNE_ACTIVITE.mandatory)
_activity_ids = PERSONNE_ACTIVITE.getter(*_ACTIVITY_ID_COLUMNS.values())
_activity_codes = PERSONNE_ACTIVITE.getter("Code civilité", "Code profession", "Code savoir-faire")


def activity_issues(values: Sequence[str], sets: ValueSets) -> list[Issue]:
    """Every issue of one PS_LibreAcces_Personne_activite line."""
    if not all(_activity_mandatory(values)):  # rare: then name each empty one
        return missing(values, PERSONNE_ACTIVITE)
    issues: list[Issue] = []
    found = person_identifier(*_activity_ids(values))
    if found is not None:
        issues.append((_ACTIVITY_ID_COLUMNS[found[0]], found[1]))
    civilite, profession, savoir_faire = _activity_codes(values)
    _code(issues, "Code civilité", civilite, sets.civilites, "code civilité")
    _code(issues, "Code profession", profession, sets.professions, "code profession")
    _code(issues, "Code savoir-faire", savoir_faire, sets.savoir_faire, "code savoir-faire")
    issues.extend(_site_issues_once("|".join(_site_values(values))))
    return issues


_SITE_CHECKS = (
    ("Numéro SIRET site", ids.check_siret),
    ("Numéro SIREN site", ids.check_siren),
    ("Numéro FINESS site", ids.check_finess),
    ("Numéro FINESS établissement juridique", ids.check_finess),
    ("Code postal (coord. structure)", ids.check_postcode),
    ("Code commune (coord. structure)", ids.check_commune),
    ("Adresse e-mail (coord. structure)", ids.check_email),
)
_COUNTRY = "Code pays (coord. structure)"
# The columns site_issues reads, in its order.
SITE_COLUMNS = (_COUNTRY, *(column for column, _ in _SITE_CHECKS))
_site_values = PERSONNE_ACTIVITE.getter(*SITE_COLUMNS)


# A site is repeated on the line of everyone working there: check each one once while in use
# (as many as records.SITES_REMEMBERED, for the same reason), keyed by its values joined (no
# field of a line contains "|"): one string hashes and compares faster than a tuple.
@lru_cache(maxsize=1 << 16)
def _site_issues_once(joined: str) -> tuple[Issue, ...]:
    return site_issues(tuple(joined.split("|")))


def site_issues(values: tuple[str, ...]) -> tuple[Issue, ...]:
    """Issues of a site's identifiers and contact details; postcode rules apply in France."""
    country, *checked = values
    issues: list[Issue] = []
    for (column, check), value in zip(_SITE_CHECKS, checked, strict=True):
        if check in (ids.check_postcode, ids.check_commune) and country not in FRANCE:
            continue
        _check(issues, column, value, check)
    return tuple(issues)


_MAILBOX_ID_COLUMNS = {
    "type": "Type Identifiant PP",
    "number": "Identifiant PP",
    "national": "Identification nationale PP",
}


_mailbox_ids = MSSANTE.getter(*_MAILBOX_ID_COLUMNS.values())
_mailbox_fields = MSSANTE.getter(
    "Type de BAL",
    "Adresse BAL",
    "Nom d'exercice",
    "Code Profession",
    "Code savoir-faire",
    "Pays",
    "Code postal",
)


def mailbox_issues(values: Sequence[str], sets: ValueSets) -> list[Issue]:
    """Every issue of one Extraction_Correspondance_MSSante line."""
    issues = missing(values, MSSANTE)
    if issues:
        return issues
    kind, address, family_name, profession, savoir_faire, country, postcode = _mailbox_fields(
        values
    )
    if kind not in MAILBOX_TYPES:
        reason = f"type de BAL inconnu : {kind} (PER, ORG, APP ou CAB)"
        return [("Type de BAL", ids.reject(reason))]
    if not ids.email_shape(address):
        return [("Adresse BAL", ids.reject("adresse BAL mal formée"))]
    kind_pp, number, national = _mailbox_ids(values)
    if number:
        found = person_identifier(kind_pp, number, national)
        if found is not None:
            issues.append((_MAILBOX_ID_COLUMNS[found[0]], found[1]))
    if kind == "PER" and not family_name:
        issues.append(("Nom d'exercice", _EMPTY))
    _code(issues, "Code Profession", profession, sets.professions, "code profession")
    _code(issues, "Code savoir-faire", savoir_faire, sets.savoir_faire, "code savoir-faire")
    if country in ("", "France", "FRANCE"):
        _check(issues, "Code postal", postcode, ids.check_postcode)
    return issues


RULES: dict[str, Rule] = {
    PERSONNE_ACTIVITE.name: activity_issues,
    MSSANTE.name: mailbox_issues,
}
