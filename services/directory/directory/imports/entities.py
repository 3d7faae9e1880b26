"""How each staged record becomes the columns of its table, and what its events carry."""

import xml.etree.ElementTree as ET
from functools import lru_cache

import sqlalchemy as sa

from directory.extract.records import ID_TYPES, Activity, Mailbox, Organisation, Professional
from directory.extract.valuesets import DATA_DIR, SAVOIR_FAIRE_FILE
from directory.models import search_key as _search_key

# Identification Structure of an MSSanté line: a one-digit type, then the identifier.
_STRUCTURE_KEYS = {"1": "finess:", "3": "siret:", "4": "id:"}


# Names, given names and cities repeat a lot across a national extract.
search_key = lru_cache(maxsize=1 << 16)(_search_key)


def practitioner_columns(person: Professional) -> dict:
    """The practitioners row of a professional (active again if it had been deactivated)."""
    return {
        "national_id": person.national_id,
        "id_type": person.national_id[:1],
        "rpps": person.identifier if person.id_type == "RPPS" else None,
        "adeli": person.identifier if person.id_type == "ADELI" else None,
        "civilite": person.civilite_code,
        "civilite_exercice": person.civilite_exercice_code,
        "family": person.family_name,
        "given": person.given_name,
        "family_search": search_key(person.family_name),
        "given_search": search_key(person.given_name),
        "professions": " ".join(person.professions),
        "fingerprint": person.fingerprint,
        "active": True,
        "deactivated_at": None,
    }


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


def practitioner_event(row: dict) -> dict:
    """The data of a practitioner event."""
    return {
        "id": str(row["id"]),
        "national_id": row["national_id"],
        "id_type": row["id_type"],
        "rpps": row["rpps"],
        "family": row["family"],
        "given": row["given"],
        "active": row["active"],
    }


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


def organization_event(row: dict) -> dict:
    """The data of an organisation event."""
    return {
        "id": str(row["id"]),
        "key": row["key"],
        "finess": row["finess"],
        "siret": row["siret"],
        "name": row["name"],
        "active": row["active"],
    }


def role_columns(activity: Activity, practitioner: dict, organization_id) -> dict:
    """The practitioner_roles row of one activity of `practitioner` (its practitioners row)."""
    return {
        "practitioner_id": practitioner["id"],
        "family_search": practitioner["family_search"],
        "given_search": practitioner["given_search"],
        "organization_id": organization_id,
        "profession_code": activity.profession_code,
        "profession": activity.profession,
        "category_code": activity.category_code,
        "savoir_faire_type": activity.savoir_faire_type,
        "savoir_faire_code": activity.savoir_faire_code,
        "savoir_faire_system": savoir_faire_system(activity.savoir_faire_code),
        "savoir_faire": activity.savoir_faire,
        "mode_code": activity.mode_code,
        "role_code": activity.role_code,
        "genre_code": activity.genre_code,
        "fingerprint": activity.fingerprint,
        "active": True,
        "deactivated_at": None,
    }


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


def mailbox_event(row: dict) -> dict:
    """The data of a mailbox event."""
    return {
        "id": str(row["id"]),
        "address": row["address"],
        "kind": row["kind"],
        "owner_national_id": row["owner_national_id"],
        "active": row["active"],
    }
