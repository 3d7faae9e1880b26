"""FHIR R4 resources as dicts, built from plain attributes (model rows or anything alike).

The mappers read attributes only, never the database: the query layer loads what a page needs
(mailboxes, parent organisations) in bulk and passes it in.
"""

import xml.etree.ElementTree as ET
from functools import lru_cache

from directory.extract import valuesets
from directory.fhir import spec

CIVILITE_PREFIXES = {"DR": "Dr", "PR": "Pr", "MC": "Médecin-chef", "ME": "Maître"}


def instant(moment):
    """A FHIR instant (UTC, with its zone) from an aware or naive-UTC datetime."""
    text = moment.isoformat(timespec="milliseconds")
    return text + "Z" if moment.tzinfo is None else text.replace("+00:00", "Z")


def _meta(row):
    return {"lastUpdated": instant(row.updated_at)}


def _coding(system, code, display=None):
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _identifier(system, value, type_code):
    return {
        "use": "official",
        "type": {"coding": [_coding(spec.IDENTIFIER_TYPE, type_code)]},
        "system": system,
        "value": value,
    }


def mailbox_telecom(address):
    """An MSSanté address as a ContactPoint: email, tagged MSSANTE with the FR Core extension."""
    return {
        "extension": [
            {
                "url": spec.EMAIL_TYPE_EXTENSION,
                "valueCoding": _coding(spec.EMAIL_TYPE, "MSSANTE", "Messagerie Sécurisée Santé"),
            }
        ],
        "system": "email",
        "value": address,
        "use": "work",
    }


def practitioner(row, mailboxes=()):
    """A Practitioner: national PS id, RPPS, name, MSSanté mailboxes."""
    identifiers = [_identifier(spec.IDNPS, row.national_id, "IDNPS")]
    if row.rpps:
        identifiers.append(_identifier(spec.RPPS, row.rpps, "RPPS"))
    resource = {
        "resourceType": "Practitioner",
        "id": str(row.id),
        "meta": _meta(row),
        "identifier": identifiers,
        "active": bool(row.active),
        "name": [_human_name(row)],
    }
    if mailboxes:
        resource["telecom"] = [mailbox_telecom(box.address) for box in mailboxes]
    return resource


def _human_name(row):
    name = {"use": "official", "family": row.family}
    if row.given:
        name["given"] = [row.given]
    prefix = CIVILITE_PREFIXES.get(row.civilite_exercice or "")
    if prefix:
        name["prefix"] = [prefix]
    return name


def practitioner_role(row, mailboxes=()):
    """A PractitionerRole: profession and function as code, savoir-faire as specialty."""
    resource = {
        "resourceType": "PractitionerRole",
        "id": str(row.id),
        "meta": _meta(row),
        "active": bool(row.active),
        "practitioner": {"reference": f"Practitioner/{row.practitioner_id}"},
    }
    if row.organization_id:
        resource["organization"] = {"reference": f"Organization/{row.organization_id}"}
    codes = _role_codes(row)
    if codes:
        resource["code"] = codes
    if row.savoir_faire_code:
        resource["specialty"] = [{"coding": [_savoir_faire_coding(row)]}]
    if mailboxes:
        resource["telecom"] = [mailbox_telecom(box.address) for box in mailboxes]
    return resource


def _savoir_faire_coding(row):
    # The importer stores the system; a code outside the value set is shown without one.
    system = getattr(row, "savoir_faire_system", "") or savoir_faire_system(row.savoir_faire_code)
    coding = {"code": row.savoir_faire_code}
    if system:
        coding = {"system": system, **coding}
    if row.savoir_faire:
        coding["display"] = row.savoir_faire
    return coding


def _role_codes(row):
    codes = []
    if row.profession_code:
        coding = _coding(spec.PROFESSION, row.profession_code, row.profession or None)
        codes.append({"coding": [coding]})
    if row.role_code:
        codes.append({"coding": [_coding(spec.FONCTION, row.role_code)]})
    return codes


def organization(row, mailboxes=(), parent_id=None):
    """An Organization: FINESS / SIRET, sector as type, address, contacts, legal entity."""
    resource = {
        "resourceType": "Organization",
        "id": str(row.id),
        "meta": _meta(row),
        "active": bool(row.active),
    }
    identifiers = _organization_identifiers(row)
    if identifiers:
        resource["identifier"] = identifiers
    if row.sector_code:
        resource["type"] = [{"coding": [_coding(spec.SECTEUR_ACTIVITE, row.sector_code)]}]
    if row.name:
        resource["name"] = row.name
    if row.trade_name and row.trade_name != row.name:
        resource["alias"] = [row.trade_name]
    telecom = _organization_telecom(row) + [mailbox_telecom(box.address) for box in mailboxes]
    if telecom:
        resource["telecom"] = telecom
    address = _address(row)
    if address:
        resource["address"] = [address]
    part_of = _part_of(row, parent_id)
    if part_of:
        resource["partOf"] = part_of
    return resource


def _organization_identifiers(row):
    identifiers = []
    if row.finess:
        identifiers.append(_identifier(spec.FINESS, row.finess, "FINEG"))
    if row.siret:
        identifiers.append(_identifier(spec.SIRET, row.siret, "SIRET"))
    return identifiers


def _organization_telecom(row):
    telecom = []
    if row.phone:
        telecom.append({"system": "phone", "value": row.phone, "use": "work"})
    if row.email:
        telecom.append({"system": "email", "value": row.email, "use": "work"})
    return telecom


def _address(row):
    address = {}
    if row.address_line:
        address["line"] = [row.address_line]
    if row.city:
        address["city"] = row.city
    if row.postcode:
        address["postalCode"] = row.postcode
    if address:
        address = {"use": "work", "type": "both", **address, "country": "FR"}
    return address


def _part_of(row, parent_id):
    """The legal entity: a reference when it is in the directory, else its FINESS EJ."""
    if parent_id:
        return {"reference": f"Organization/{parent_id}"}
    if row.part_of:
        identifier = _identifier(spec.FINESS, row.part_of, "FINEJ")
        return {"identifier": identifier, "display": f"FINESS EJ {row.part_of}"}
    return None


def savoir_faire_system(code):
    """The code system (urn:oid:...) the official value set J107 gives a code, or None."""
    return _savoir_faire_systems().get(code)


@lru_cache(maxsize=1)
def _savoir_faire_systems():
    path = valuesets.DATA_DIR / valuesets.SAVOIR_FAIRE_FILE
    systems = {}
    # Trusted input: the official value set shipped with the package.
    for _, element in ET.iterparse(path):  # noqa: S314
        if element.tag.endswith("}Concept"):
            systems[element.get("code")] = "urn:oid:" + element.get("codeSystem")
    return systems


def codes_of_system(system):
    """The savoir-faire codes the value set J107 places in `system`."""
    system = spec.SYSTEM_ALIASES.get(system, system)
    return {code for code, owner in _savoir_faire_systems().items() if owner == system}
