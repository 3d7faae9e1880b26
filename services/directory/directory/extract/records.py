"""Domain records built from extract lines, each with a content fingerprint.

The extracts carry no update dates, so an importer tells "changed" from "unchanged" by comparing
a stable hash of the normalised fields (the fingerprint) with the one it stored last time.

Grouping assumption: the national extract writes the lines of one professional one after the
other, and `professionals()` groups such runs without holding more than one professional in
memory. Correctness does not depend on it: a professional whose lines are split yields two
partial records with the same national id, and `Professional.merged_with` combines them into the
record a contiguous run would have given (the fingerprint does not depend on activity order).
The importer therefore upserts into a per-import staging table keyed by national id, merging a
partial record into the row already staged, then diffs staging against the stored fingerprints
in one query: Python memory stays constant whatever the order of lines.
"""

import hashlib
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from operator import itemgetter
from typing import NamedTuple

from directory.extract.formats import MSSANTE, PERSONNE_ACTIVITE
from directory.extract.reader import Record

# A line's values, in its format's column order (reader.Record).
Values = Sequence[str]

# The extract's own separator: no field read from it can contain one.
_SEPARATOR = "|"


def normalise(value: str) -> str:
    """NFC, single spaces, no surrounding blanks: what a fingerprint sees of a field."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def already_normal(joined: str) -> bool:
    """Whether values joined by `|` are each as normalise() would leave them."""
    # isprintable() is False for tabs, newlines and non-breaking spaces: then normalise.
    return (
        joined.isprintable()
        and "  " not in joined
        and " |" not in joined
        and "| " not in joined
        and not joined.startswith(" ")
        and not joined.endswith(" ")
        and unicodedata.is_normalized("NFC", joined)
    )


def fingerprint(values: Iterable[str]) -> str:
    """A stable 128-bit hex digest of the normalised values (which never contain `|`)."""
    return fingerprint_joined(_SEPARATOR.join(values))


def fingerprint_joined(joined: str) -> str:
    """fingerprint() of values already joined by `|`, as they are."""
    if not already_normal(joined):
        joined = _SEPARATOR.join(normalise(value) for value in joined.split(_SEPARATOR))
    return fingerprint_normal(joined)


_blake2b = partial(hashlib.blake2b, digest_size=16)


def fingerprint_normal(joined: str) -> str:
    """fingerprint_joined() of values joined by `|` that are already normal (already_normal)."""
    return _blake2b(joined.encode()).hexdigest()


def fingerprints_normal(texts: list[str]) -> list[str]:
    """fingerprint_normal() of each text, in one pass of built-ins (no call of the interpreter's
    per text)."""
    return list(map(hashlib.blake2b.hexdigest, map(_blake2b, map(str.encode, texts))))


def _content(record) -> list[str]:
    return [getattr(record, name) for name in record.__slots__ if name != "fingerprint"]


# The records below are not frozen dataclasses, though nothing changes one once it is built:
# an import builds millions of them, and a frozen one costs five times more to build (each
# field set through object.__setattr__). Hashed by content like frozen ones.
_RECORD = {"slots": True, "unsafe_hash": True}


@dataclass(**_RECORD)
class Organisation:
    """A place where professionals work, keyed by FINESS site, else SIRET, else technical id."""

    key: str
    finess: str
    finess_ej: str
    siret: str
    siren: str
    technical_id: str
    name: str
    trade_name: str
    street_number: str
    street_type: str
    street: str
    postcode: str
    commune_code: str
    commune: str
    country: str
    phone: str
    email: str
    department: str
    sector_code: str
    fingerprint: str = ""


class Site(NamedTuple):
    """An organisation as an activity line names it, in the little memory a reader can keep
    for each of the tens of thousands it meets: its key, its fingerprint and its values joined
    (the ORGANISATION_COLUMNS of the line, without the key)."""

    key: str
    fingerprint: str
    values: str

    def organisation(self) -> Organisation:
        """The whole organisation record."""
        return Organisation(self.key, *self.values.split(_SEPARATOR), fingerprint=self.fingerprint)


@dataclass(**_RECORD)
class Activity:
    """One line of the personne-activité extract: what a professional does, and where."""

    profession_code: str
    profession: str
    category_code: str
    savoir_faire_type: str
    savoir_faire_code: str
    savoir_faire: str
    mode_code: str
    mode: str
    role_code: str
    role: str
    genre_code: str
    organisation_key: str
    fingerprint: str = ""


@dataclass(**_RECORD)
class Professional:
    """A professional, identified nationally (8 + RPPS or 0 + ADELI), with all activities."""

    national_id: str
    id_type: str
    identifier: str
    civilite_code: str
    civilite_exercice_code: str
    family_name: str
    given_name: str
    professions: tuple[str, ...]
    activities: tuple[Activity, ...]
    sites: tuple[Site, ...]  # where the activities take place, as read (none once staged)
    fingerprint: str = ""

    def merged_with(self, other: "Professional") -> "Professional":
        """The record one contiguous run would give for both partial records of this id."""
        identity = (
            self.national_id,
            self.id_type,
            self.identifier,
            self.civilite_code,
            self.civilite_exercice_code,
            self.family_name,
            self.given_name,
        )
        return _professional(identity, self.activities + other.activities, self.sites + other.sites)


@dataclass(**_RECORD)
class Mailbox:
    """An MSSanté mailbox: its address, type (PER, ORG, APP, CAB) and owner."""

    address: str
    kind: str
    owner_national_id: str
    structure_id: str
    service: str
    family_name: str
    given_name: str
    profession_code: str
    savoir_faire_code: str
    organisation_name: str
    postcode: str
    fingerprint: str = ""


def organisation_key(finess: str, siret: str, technical_id: str) -> str:
    """The key an organisation is known by: FINESS site, else SIRET, else technical id."""
    if finess:
        return "finess:" + finess
    if siret:
        return "siret:" + siret
    if technical_id:
        return "id:" + technical_id
    return ""


# The columns an organisation's key is made of, in organisation_key's order.
KEY_COLUMNS = (
    "Numéro FINESS site",
    "Numéro SIRET site",
    "Identifiant technique de la structure",
)


# The personne-activité columns that describe an activity's site (its organisation).
ORGANISATION_COLUMNS = (
    "Numéro FINESS site",
    "Numéro FINESS établissement juridique",
    "Numéro SIRET site",
    "Numéro SIREN site",
    "Identifiant technique de la structure",
    "Raison sociale site",
    "Enseigne commerciale site",
    "Numéro Voie (coord. structure)",
    "Code type de voie (coord. structure)",
    "Libellé Voie (coord. structure)",
    "Code postal (coord. structure)",
    "Code commune (coord. structure)",
    "Libellé commune (coord. structure)",
    "Code pays (coord. structure)",
    "Téléphone (coord. structure)",
    "Adresse e-mail (coord. structure)",
    "Code Département (structure)",
    "Code secteur d'activité",
)


def organisation_from(values: Values) -> Site | None:
    """The site of the organisation an activity line names, or None for an activity without
    one."""
    return _site(_SEPARATOR.join(_organisation_values(values)))


_organisation_values = PERSONNE_ACTIVITE.getter(*ORGANISATION_COLUMNS)
_key_values = itemgetter(*map(ORGANISATION_COLUMNS.index, KEY_COLUMNS))

# A site appears on the line of every professional working there: a bounded cache builds each
# one once while it is in use. Lines come in professional order, so a site comes back after
# thousands of others: a national extract names about 50,000, and a reader that forgets some
# builds them again, line after line (27.8 µs per line with 16,384 remembered, 19.0 with 65,536).
# Keyed by the values joined (they never contain the separator): one string hashes and compares
# faster than a tuple of 18, and the Site keeps that same string.
SITES_REMEMBERED = 1 << 16


def site_of(joined: str) -> Site | None:
    """The site of an organisation's values joined by `|` (ORGANISATION_COLUMNS of a line), or
    None for an activity without one."""
    values = joined.split(_SEPARATOR)
    key = organisation_key(*_key_values(values))
    if not key:
        return None
    values.insert(0, key)
    return Site(key, fingerprint(values), joined)


_site = lru_cache(maxsize=SITES_REMEMBERED)(site_of)


ACTIVITY_COLUMNS = (
    "Code profession",
    "Libellé profession",
    "Code catégorie professionnelle",
    "Code type savoir-faire",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Code mode exercice",
    "Libellé mode exercice",
    "Code rôle",
    "Libellé rôle",
    "Code genre activité",
)


# The fields of an Activity but its organisation key and fingerprint, from a line.
activity_values_of = PERSONNE_ACTIVITE.getter(*ACTIVITY_COLUMNS)


def activity_from(line: Values, key: str) -> Activity:
    """The activity one personne-activité line describes, at the organisation `key` ("" for
    none)."""
    values = (*activity_values_of(line), key)
    return Activity(*values, fingerprint=fingerprint(values))


def _professional(identity: tuple[str, ...], activities, sites) -> Professional:
    # Sorted so that the fingerprint ignores line order and duplicates collapse.
    acts = _distinct(activities, _by_fingerprint)
    places = _distinct(sites, _by_key)
    professions = tuple(sorted({a.profession_code for a in acts if a.profession_code}))
    own = fingerprint((*identity, *professions, *map(_by_fingerprint, acts)))
    return Professional(*identity, professions, acts, places, fingerprint=own)


def _distinct(items: list, key) -> tuple:
    """The items, one per key (the last one), in key order."""
    if len(items) < 2:  # most professionals work at one place: nothing to collapse or sort
        return tuple(items)
    return tuple(sorted({key(item): item for item in items}.values(), key=key))


def _by_fingerprint(activity: Activity) -> str:
    return activity.fingerprint


def _by_key(site: Site) -> str:
    return site.key


ID_TYPES = {"8": "RPPS", "0": "ADELI"}
# A line's national id, its identifier type (8 or 0), then the fields of a Professional from
# identifier to given_name.
identity_values_of = PERSONNE_ACTIVITE.getter(
    "Identification nationale PP",
    "Type d'identifiant PP",
    "Identifiant PP",
    "Code civilité",
    "Code civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
)


def professional_from(lines: list[Values]) -> Professional:
    """One professional from the (non-empty) list of its lines' values."""
    national_id, kind, *names = identity_values_of(lines[0])
    identity = (national_id, ID_TYPES.get(kind, kind), *names)
    activities, sites = [], []
    for line in lines:
        site = organisation_from(line)
        if site is None:
            activities.append(activity_from(line, ""))
        else:  # the site knows its key already
            activities.append(activity_from(line, site.key))
            sites.append(site)
    return _professional(identity, activities, sites)


_NATIONAL_ID = PERSONNE_ACTIVITE.position("Identification nationale PP")


class ProfessionalRuns:
    """Group consecutive lines with the same national id, one line at a time.

    `push` returns the professional whose run the line ends (or None); `flush` the last one.
    """

    def __init__(self):
        self.run: list[Values] = []

    def push(self, values: Values) -> Professional | None:
        """Add one line's values; the previous professional when this line starts another."""
        run, done = self.run, None
        if run and values[_NATIONAL_ID] != run[0][_NATIONAL_ID]:
            done, self.run = professional_from(run), [values]
        else:
            run.append(values)
        return done

    def flush(self) -> Professional | None:
        """The professional of the lines pushed since the last one came out, if any."""
        run, self.run = self.run, []
        return professional_from(run) if run else None


def professionals(records: Iterable[Record]) -> Iterator[Professional]:
    """Group runs of consecutive lines with the same national id into professionals."""
    runs = ProfessionalRuns()
    for record in records:
        done = runs.push(record.values)
        if done is not None:
            yield done
    last = runs.flush()
    if last is not None:
        yield last


_MAILBOX_COLUMNS = (
    "Type de BAL",
    "Identification nationale PP",
    "Identification Structure",
    "Service de rattachement",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Code Profession",
    "Code savoir-faire",
    "Raison Sociale structure BAL",
    "Code postal",
)


_mailbox_values = MSSANTE.getter(*_MAILBOX_COLUMNS)
_address = MSSANTE.getter("Adresse BAL")


def mailbox_from(line: Values) -> Mailbox:
    """The mailbox one MSSanté line describes (addresses compare case-insensitively)."""
    values = (_address(line).lower(), *_mailbox_values(line))
    return Mailbox(*values, fingerprint=fingerprint(values))


def mailboxes(records: Iterable[Record]) -> Iterator[Mailbox]:
    """Every MSSanté line as a mailbox (an address listed twice comes out twice)."""
    for record in records:
        yield mailbox_from(record.values)


class RecentOrganisations:
    """Remember the last `size` organisations seen, to skip repeats without unbounded memory.

    An organisation seen again after `size` others counts as new again, which an upsert keyed
    by `key` absorbs (same fingerprint, nothing to write).
    """

    def __init__(self, size: int = 100_000):
        self.size = size
        self.recent: OrderedDict[str, str] = OrderedDict()

    def is_new(self, org: Organisation | Site) -> bool:
        """Whether this (key, fingerprint) was not among the recently seen ones."""
        if self.recent.get(org.key) == org.fingerprint:
            self.recent.move_to_end(org.key)
            return False
        self.recent[org.key] = org.fingerprint
        self.recent.move_to_end(org.key)
        if len(self.recent) > self.size:
            self.recent.popitem(last=False)
        return True
