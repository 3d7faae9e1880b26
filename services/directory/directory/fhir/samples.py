"""A small regional directory written through the models, for the FHIR API's tests and demos.

Names carry accents, hyphens and ligatures; codes are real G15 professions and J107 savoir-faire.
"""

import datetime as dt
from types import SimpleNamespace

from directory.extract.records import fingerprint
from directory.models import Mailbox, Organization, Practitioner, PractitionerRole, search_key

OLD = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
RECENT = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def practitioner(session, national_id, family, given, updated_at=RECENT, active=True):
    """A practitioner: national_id is 8 + RPPS or 0 + ADELI."""
    row = Practitioner(
        national_id=national_id,
        id_type=national_id[0],
        rpps=national_id[1:] if national_id[0] == "8" else None,
        adeli=national_id[1:] if national_id[0] == "0" else None,
        civilite_exercice="DR",
        family=family,
        given=given,
        family_search=search_key(family),
        given_search=search_key(given),
        professions="10",
        active=active,
        fingerprint=fingerprint([national_id, family, given]),
        updated_at=updated_at,
    )
    session.add(row)
    return row


def organization(session, key, name, city, postcode, sector="SA01", part_of=None, **extra):
    """An organisation keyed "finess:..." or "siret:..."; part_of is its FINESS EJ."""
    kind, _, value = key.partition(":")
    row = Organization(
        key=key,
        finess=value if kind == "finess" else None,
        siret=value if kind == "siret" else None,
        name=name,
        name_search=search_key(name),
        city=city,
        city_search=search_key(city),
        postcode=postcode,
        sector_code=sector,
        part_of=part_of,
        fingerprint=fingerprint([key, name]),
        **extra,
    )
    session.add(row)
    return row


def role(session, who, where, profession="10", savoir_faire="", role_code="", active=True):
    """An activity of `who` at `where` (an Organization or None)."""
    row = PractitionerRole(
        practitioner=who,
        organization=where,
        family_search=who.family_search,
        given_search=who.given_search,
        profession_code=profession,
        savoir_faire_code=savoir_faire,
        role_code=role_code,
        active=active,
        fingerprint=fingerprint([profession, savoir_faire, role_code, where.key if where else ""]),
    )
    session.add(row)
    return row


def mailbox(session, address, kind, who=None, where=None):
    """An MSSanté mailbox of a practitioner or, without one, of an organisation."""
    row = Mailbox(
        address=address,
        kind=kind,
        practitioner_id=who.id if who else None,
        organization_id=where.id if where else None,
        fingerprint=fingerprint([address, kind]),
    )
    session.add(row)
    return row


def seed(s):
    """A regional directory: a CHU and its legal entity, a practice, five practitioners."""
    legal_entity = organization(s, "finess:350005179", "CHU de Rennes", "Rennes", "35033")
    chu = organization(
        s, "finess:350000014", "CHU Rennes Pontchaillou", "Rennes", "35033", part_of="350005179"
    )
    practice = organization(
        s, "siret:12345678900011", "Cabinet médical Saint-Exupéry", "Saint-Étienne", "42000", "SA07"
    )
    lefevre = practitioner(s, "810001234567", "Lefèvre", "Jean-François", updated_at=OLD)
    lefebvre = practitioner(s, "810007654321", "Lefebvre", "Marie")
    dupont = practitioner(s, "810002222222", "Dupont-Aignan", "Élise", active=False)
    martin = practitioner(s, "0123456789", "Martin", "Jean")
    oeillet = practitioner(s, "810003333333", "Œillet", "Gaëlle")
    s.flush()
    roles = SimpleNamespace(
        neurologist=role(s, lefevre, chu, savoir_faire="SM32", role_code="FON-05"),
        gp=role(s, lefevre, practice, savoir_faire="SM54"),
        nurse=role(s, lefebvre, practice, profession="60"),
        former=role(s, dupont, chu, savoir_faire="C03", active=False),
        anaesthetist=role(s, oeillet, chu, savoir_faire="SM02"),
    )
    mailbox(s, "jean-francois.lefevre@chu-rennes.mssante.fr", "PER", who=lefevre, where=chu)
    mailbox(s, "neurologie@chu-rennes.mssante.fr", "ORG", where=chu)
    s.commit()
    return SimpleNamespace(
        legal_entity=legal_entity,
        chu=chu,
        practice=practice,
        lefevre=lefevre,
        lefebvre=lefebvre,
        dupont=dupont,
        martin=martin,
        oeillet=oeillet,
        roles=roles,
    )


def namesakes(session, family, count):
    """`count` practitioners of the same family name, given names A1, A2... (for paging)."""
    rows = [
        practitioner(session, f"8{90000000000 + index}", family, f"A{index:03d}")
        for index in range(count)
    ]
    session.commit()
    return rows
