"""How each staged record becomes the columns of its table, and what its events carry."""

import operator
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, chain, compress, repeat

import sqlalchemy as sa

from directory.extract.records import ID_TYPES, Activity, Mailbox, Organisation, Professional
from directory.extract.rows import activity_values, identity_values
from directory.extract.valuesets import DATA_DIR, SAVOIR_FAIRE_FILE
from directory.models import search_key as _search_key

# Identification Structure of an MSSanté line: a one-digit type, then the identifier.
_STRUCTURE_KEYS = {"1": "finess:", "3": "siret:", "4": "id:"}


# Names, given names and cities repeat a lot across a national extract.
search_key = lru_cache(maxsize=1 << 16)(_search_key)


# The columns of a practitioners row but its id and timestamps, as practitioner_values gives them.
PRACTITIONER_COLUMNS = (
    "national_id",
    "id_type",
    "rpps",
    "adeli",
    "civilite",
    "civilite_exercice",
    "family",
    "given",
    "family_search",
    "given_search",
    "professions",
    "fingerprint",
    "active",
    "deactivated_at",
)


def practitioner_columns(person: Professional) -> dict:
    """The practitioners row of a professional (active again if it had been deactivated)."""
    values = practitioner_values(
        person.national_id, person.fingerprint, *identity_values(person), person.professions
    )
    return dict(zip(PRACTITIONER_COLUMNS, values, strict=True))


def practitioner_values(
    national_id, fingerprint, id_type, identifier, civilite, civilite_exercice, family, given,
    professions: tuple[str, ...],
) -> tuple:  # fmt: skip
    """The values of PRACTITIONER_COLUMNS for a professional's fields, in that order."""
    return (
        national_id,
        national_id[:1],
        identifier if id_type == "RPPS" else None,
        identifier if id_type == "ADELI" else None,
        civilite,
        civilite_exercice,
        family,
        given,
        search_key(family),
        search_key(given),
        " ".join(professions),
        fingerprint,
        True,
        None,
    )


def stored_professional(row, activities: tuple[Activity, ...]) -> Professional:
    """The professional a stored practitioners row and its activities hold, as read."""
    return Professional(
        row.national_id,
        ID_TYPES.get(row.id_type, row.id_type),  # the row keeps the digit, a record the name
        row.rpps if row.rpps is not None else row.adeli,
        row.civilite,
        row.civilite_exercice,
        row.family,
        row.given,
        tuple(row.professions.split()),
        activities,
        (),
        fingerprint=row.fingerprint,
    )


def stored_activity(role, organisation_key: str) -> Activity:
    """The activity a stored role holds, with its fingerprint; the labels of its mode and
    role, which the role does not keep, are left empty (the fingerprint covers them)."""
    return Activity(
        role.profession_code,
        role.profession,
        role.category_code,
        role.savoir_faire_type,
        role.savoir_faire_code,
        role.savoir_faire,
        role.mode_code,
        "",
        role.role_code,
        "",
        role.genre_code,
        organisation_key,
        fingerprint=role.fingerprint,
    )


# What the events of each practitioner carry: its id as text, then these columns of its row.
PRACTITIONER_EVENT = ("id", "national_id", "id_type", "rpps", "family", "given", "active")


def organization_columns(org: Organisation) -> dict:
    """The organizations row of an organisation."""
    address = " ".join(part for part in (org.street_number, org.street_type, org.street) if part)
    return {
        "key": org.key,
        "finess": org.finess or None,
        "finess_ej": org.finess_ej or None,
        "siret": org.siret or None,
        "siren": org.siren or None,
        "technical_id": org.technical_id or None,
        "name": org.name,
        "name_search": search_key(org.name),
        "trade_name": org.trade_name,
        "address_line": address,
        "postcode": org.postcode,
        "city_code": org.commune_code,
        "city": org.commune,
        "city_search": search_key(org.commune),
        "country": org.country,
        "phone": org.phone,
        "email": org.email,
        "department": org.department,
        "sector_code": org.sector_code,
        "part_of": org.finess_ej or None,
        "fingerprint": org.fingerprint,
        "active": True,
        "deactivated_at": None,
    }


# What the events of each organisation carry: its id as text, then these columns of its row.
ORGANIZATION_EVENT = ("id", "key", "finess", "siret", "name", "active")


# The columns of a practitioner_roles row but its id and timestamps, as role_values gives them.
ROLE_COLUMNS = (
    "practitioner_id",
    "family_search",
    "given_search",
    "organization_id",
    "profession_code",
    "profession",
    "category_code",
    "savoir_faire_type",
    "savoir_faire_code",
    "savoir_faire_system",
    "savoir_faire",
    "mode_code",
    "role_code",
    "genre_code",
    "fingerprint",
    "active",
    "deactivated_at",
)


def role_columns(activity: Activity, practitioner: dict, organization_id) -> dict:
    """The practitioner_roles row of one activity of `practitioner` (its practitioners row)."""
    values = role_values(
        activity_values(activity),
        practitioner["id"],
        practitioner["family_search"],
        practitioner["given_search"],
        organization_id,
    )
    return dict(zip(ROLE_COLUMNS, values, strict=True))


def role_values(activity, practitioner_id, family_search, given_search, organization_id) -> tuple:
    """The values of ROLE_COLUMNS for an activity given as its values (rows.activity_values)."""
    (
        profession_code, profession, category_code, savoir_faire_type, savoir_faire_code,
        savoir_faire, mode_code, _mode, role_code, _role, genre_code, _place, fingerprint,
    ) = activity  # fmt: skip
    return (
        practitioner_id,
        family_search,
        given_search,
        organization_id,
        profession_code,
        profession,
        category_code,
        savoir_faire_type,
        savoir_faire_code,
        savoir_faire_system(savoir_faire_code),
        savoir_faire,
        mode_code,
        role_code,
        genre_code,
        fingerprint,
        True,
        None,
    )


@dataclass
class NewActivities:
    """The activities of new professionals a column at a time: each field of rows.
    split_professional's activities (ACTIVITY_FIELDS), and for each activity its practitioner's
    id and name keys."""

    fields: list[list[str]]
    practitioner_ids: list
    family_search: list[str]
    given_search: list[str]

    def __len__(self) -> int:
        return len(self.practitioner_ids)

    def organisation_keys(self) -> list[str]:
        """The key of each activity's organisation ("" for none)."""
        return self.fields[_PLACE_FIELD]


def new_practitioner_rows(ids: list, rows: list, now) -> tuple[list[tuple], NewActivities]:
    """The practitioners rows (id, PRACTITIONER_COLUMNS, created_at, updated_at) of new
    professionals given as staged rows (rows.professional_row), with `ids` and created and
    updated `now`, and their activities.

    What practitioner_values and split_professional give row by row, a column at a time: the
    staged texts are split all at once, and each column built by built-ins (decision 58).
    """
    count = len(rows)
    keys, prints, texts = zip(*rows, strict=True)
    activity_counts = list(map(str.count, texts, repeat(_ACTIVITY_SEPARATOR)))
    lines = _ACTIVITY_SEPARATOR.join(texts).split(_ACTIVITY_SEPARATOR)
    # Each professional's identity comes first, then its activities.
    starts = list(accumulate(map((1).__add__, activity_counts), initial=0))[:-1]
    identity = _is_identity(len(lines), starts)
    identities = _VALUE_SEPARATOR.join(compress(lines, identity)).split(_VALUE_SEPARATOR)
    kinds, identifiers, civilites, civilites_exercice, families, givens = (
        identities[field :: len(IDENTITY_FIELDS)] for field in range(len(IDENTITY_FIELDS))
    )
    activity_lines = list(compress(lines, map(operator.not_, identity)))
    values = _VALUE_SEPARATOR.join(activity_lines).split(_VALUE_SEPARATOR)
    fields = [values[field :: len(ACTIVITY_FIELDS)] for field in range(len(ACTIVITY_FIELDS))]
    family_search = list(map(search_key, families))
    given_search = list(map(search_key, givens))
    owners = list(chain.from_iterable(map(repeat, range(count), activity_counts)))
    people = list(
        zip(
            ids,
            keys,
            map(operator.getitem, keys, repeat(slice(0, 1))),
            map(_if_kind, identifiers, kinds, repeat("RPPS")),
            map(_if_kind, identifiers, kinds, repeat("ADELI")),
            civilites,
            civilites_exercice,
            families,
            givens,
            family_search,
            given_search,
            _professions(fields[_PROFESSION_FIELD], activity_counts),
            prints,
            repeat(True, count),
            repeat(None, count),
            repeat(now, count),
            repeat(now, count),
            strict=True,
        )
    )
    activities = NewActivities(
        fields,
        list(map(ids.__getitem__, owners)),
        list(map(family_search.__getitem__, owners)),
        list(map(given_search.__getitem__, owners)),
    )
    return people, activities


def new_role_rows(ids: list, activities: NewActivities, organizations: dict, now) -> list[tuple]:
    """The practitioner_roles rows (id, ROLE_COLUMNS, created_at, updated_at) of new
    professionals' activities, with `ids`, their organisations' ids by key, and created and
    updated `now`: role_values a column at a time."""
    count = len(activities)
    (
        profession_code, profession, category_code, savoir_faire_type, savoir_faire_code,
        savoir_faire, mode_code, _mode, role_code, _role, genre_code, place, fingerprint,
    ) = activities.fields  # fmt: skip
    systems = map(_savoir_faire_systems().get, savoir_faire_code, repeat(""))
    return list(
        zip(
            ids,
            activities.practitioner_ids,
            activities.family_search,
            activities.given_search,
            map(organizations.get, place),
            profession_code,
            profession,
            category_code,
            savoir_faire_type,
            savoir_faire_code,
            systems,
            savoir_faire,
            mode_code,
            role_code,
            genre_code,
            fingerprint,
            repeat(True, count),
            repeat(None, count),
            repeat(now, count),
            repeat(now, count),
            strict=True,
        )
    )


# The staged form of a professional (rows.split_professional): its identity's values, then
# each activity's, on lines of their own.
IDENTITY_FIELDS = ("id_type", "identifier", "civilite", "civilite_exercice", "family", "given")
ACTIVITY_FIELDS = (*(name for name in Activity.__slots__ if name != "fingerprint"), "fingerprint")
_PLACE_FIELD = ACTIVITY_FIELDS.index("organisation_key")
_PROFESSION_FIELD = ACTIVITY_FIELDS.index("profession_code")
_ACTIVITY_SEPARATOR, _VALUE_SEPARATOR = "\n", "|"


def _is_identity(count: int, starts: list[int]) -> list[bool]:
    marks = [False] * count
    for start in starts:
        marks[start] = True
    return marks


def _if_kind(identifier: str, kind: str, wanted: str) -> str | None:
    return identifier if kind == wanted else None


def _professions(codes: list[str], activity_counts: list[int]) -> list[str]:
    """Each professional's distinct profession codes, sorted and spaced (rows.profession_codes),
    from its activities' codes, which come in its order."""
    spaced, start = [], 0
    for count in activity_counts:
        if count == 1:  # most professionals
            spaced.append(codes[start])
        else:
            spaced.append(" ".join(sorted(set(codes[start : start + count]) - {""})))
        start += count
    return spaced


@lru_cache(maxsize=1)
def _savoir_faire_systems() -> dict[str, str]:
    # The NOS value set names, for each code, the OID of the terminology it belongs to.
    systems = {}
    # Trusted input: a file shipped with the package.
    for _, element in ET.iterparse(DATA_DIR / SAVOIR_FAIRE_FILE):  # noqa: S314
        if element.tag.endswith("Concept"):
            systems[element.get("code")] = "urn:oid:" + element.get("codeSystem", "")
    return systems


def savoir_faire_system(code: str) -> str:
    """The terminology (urn:oid:...) a savoir-faire code comes from, '' when unknown."""
    return _savoir_faire_systems().get(code, "") if code else ""


def mailbox_columns(box: Mailbox) -> dict:
    """The mailboxes row of a mailbox (owner ids are resolved by the caller)."""
    return {
        "address": box.address,
        "kind": box.kind,
        "owner_national_id": box.owner_national_id,
        "structure_id": box.structure_id,
        "service": box.service,
        "family": box.family_name,
        "given": box.given_name,
        "organisation_name": box.organisation_name,
        "fingerprint": box.fingerprint,
        "active": True,
        "deactivated_at": None,
    }


def structure_key(structure_id: str) -> str | None:
    """The organisation key an MSSanté structure identifier points at, if any."""
    prefix = _STRUCTURE_KEYS.get(structure_id[:1])
    return prefix + structure_id[1:] if prefix and len(structure_id) > 1 else None


def structure_key_in_sql(column):
    """`structure_key` of a column of MSSanté structure identifiers, as an SQL expression."""
    kind, identifier = sa.func.substr(column, 1, 1), sa.func.substr(column, 2)
    return sa.case(
        *((sa.and_(kind == digit, identifier != ""), prefix + identifier)
          for digit, prefix in _STRUCTURE_KEYS.items()),
        else_=sa.null(),
    )  # fmt: skip


# What the events of each mailbox carry: its id as text, then these columns of its row.
MAILBOX_EVENT = ("id", "address", "kind", "owner_national_id", "active")


def event_data(row: dict, names: tuple[str, ...]) -> dict:
    """The data of an event of a row: the columns named, its id as text."""
    return {name: str(row[name]) if name == "id" else row[name] for name in names}
