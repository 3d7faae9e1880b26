"""Line validation for each extract: identifiers, mandatory fields, codes against value sets.

A rule returns `(column, Finding)` pairs in the order the checks run; the reader rejects a line
on the first blocking finding and keeps the others as warnings.
"""

from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter

from directory.extract import identifiers as ids
from directory.extract.formats import MSSANTE, PERSONNE_ACTIVITE, ExtractFormat
from directory.extract.valuesets import ValueSets

Issue = tuple[str, ids.Finding]
Rule = Callable[[dict[str, str], ValueSets], list[Issue]]

RPPS_TYPE = "8"
ADELI_TYPE = "0"
MAILBOX_TYPES = ("PER", "ORG", "APP", "CAB")
# Country codes the extracts use for France (INSEE 99100, and 99000 in older files).
FRANCE = ("", "99000", "99100")

_EMPTY = ids.reject("champ obligatoire vide")


def missing(fields: dict[str, str], fmt: ExtractFormat) -> list[Issue]:
    """A blocking issue for each mandatory column left empty."""
    return [(column, _EMPTY) for column in fmt.mandatory if not fields[column]]


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


_activity_mandatory = itemgetter(*PERSONNE_ACTIVITE.mandatory)


def activity_issues(fields: dict[str, str], sets: ValueSets) -> list[Issue]:
    """Every issue of one PS_LibreAcces_Personne_activite line."""
    if not all(_activity_mandatory(fields)):  # rare: then name each empty one
        return missing(fields, PERSONNE_ACTIVITE)
    issues: list[Issue] = []
    found = person_identifier(
        fields["Type d'identifiant PP"],
        fields["Identifiant PP"],
        fields["Identification nationale PP"],
    )
    if found is not None:
        issues.append((_ACTIVITY_ID_COLUMNS[found[0]], found[1]))
    _code(issues, "Code civilité", fields["Code civilité"], sets.civilites, "code civilité")
    _code(issues, "Code profession", fields["Code profession"], sets.professions, "code profession")
    _code(
        issues,
        "Code savoir-faire",
        fields["Code savoir-faire"],
        sets.savoir_faire,
        "code savoir-faire",
    )
    _organisation_issues(issues, fields)
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
_site_values = itemgetter(_COUNTRY, *(column for column, _ in _SITE_CHECKS))


def _organisation_issues(issues: list[Issue], fields: dict[str, str]) -> None:
    issues.extend(_site_issues_once("|".join(_site_values(fields))))


# A site is repeated on the line of everyone working there: check each one once while in use,
# keyed by its values joined (no field of a line contains "|"): one string hashes and compares
# faster than a tuple.
@lru_cache(maxsize=1 << 14)
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


def mailbox_issues(fields: dict[str, str], sets: ValueSets) -> list[Issue]:
    """Every issue of one Extraction_Correspondance_MSSante line."""
    issues = missing(fields, MSSANTE)
    if issues:
        return issues
    kind = fields["Type de BAL"]
    if kind not in MAILBOX_TYPES:
        reason = f"type de BAL inconnu : {kind} (PER, ORG, APP ou CAB)"
        return [("Type de BAL", ids.reject(reason))]
    if not ids.email_shape(fields["Adresse BAL"]):
        return [("Adresse BAL", ids.reject("adresse BAL mal formée"))]
    if fields["Identifiant PP"]:
        found = person_identifier(
            fields["Type Identifiant PP"],
            fields["Identifiant PP"],
            fields["Identification nationale PP"],
        )
        if found is not None:
            issues.append((_MAILBOX_ID_COLUMNS[found[0]], found[1]))
    if kind == "PER" and not fields["Nom d'exercice"]:
        issues.append(("Nom d'exercice", _EMPTY))
    _code(issues, "Code Profession", fields["Code Profession"], sets.professions, "code profession")
    _code(
        issues,
        "Code savoir-faire",
        fields["Code savoir-faire"],
        sets.savoir_faire,
        "code savoir-faire",
    )
    if fields["Pays"] in ("", "France", "FRANCE"):
        _check(issues, "Code postal", fields["Code postal"], ids.check_postcode)
    return issues


RULES: dict[str, Rule] = {
    PERSONNE_ACTIVITE.name: activity_issues,
    MSSANTE.name: mailbox_issues,
}
