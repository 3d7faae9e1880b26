"""The FHIR API over a directory filled by the importer from a generated regional extract.

Every page of every resource type is fetched by following the `next` links, and every Bundle and
resource in it is validated by fhir.resources.
"""

import pytest
import sqlalchemy as sa
from directory.extract import generate
from directory.fhir.filters import condition
from directory.fhir.params import parse_filter
from directory.fhir.validation import validate
from directory.imports import jobs, run_import
from directory.models import Mailbox, Organization, Practitioner, PractitionerRole, search_key
from servicekit import db


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    """A 200-line regional extract and its MSSanté mailboxes."""
    folder = tmp_path_factory.mktemp("extract")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 200, seed=11)


@pytest.fixture
def imported(app, extract):
    """The directory after importing the extract, then its mailboxes."""
    with app.app_context(), db.sessions() as session:
        for kind, path in (("ps", extract.path), ("mssante", extract.mssante_path)):
            run = jobs.queue(session, kind, path.name, str(path), "test")
            session.commit()
            run_import(session, run, app.config["IMPORT_BATCH_SIZE"])
    return extract


def every_page(client, headers, first_url):
    """Follow `next` from first_url; each page validated. All entries, in order."""
    url, found = first_url, []
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        bundle = response.json
        validate(bundle)
        found += bundle.get("entry", [])
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    return found


def count(db_session, model):
    return db_session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize(
    ("resource_type", "model"),
    [
        ("Practitioner", Practitioner),
        ("PractitionerRole", PractitionerRole),
        ("Organization", Organization),
    ],
)
def test_it_serves_every_imported_entry_as_valid_fhir(
    client, gp, db_session, imported, resource_type, model
):
    entries = every_page(client, gp, f"/fhir/{resource_type}?_count=100")
    assert len({entry["resource"]["id"] for entry in entries}) == count(db_session, model) > 0


def test_it_finds_an_imported_practitioner_by_a_prefix_typed_without_accents(
    client, gp, db_session, imported
):
    someone = db_session.scalar(sa.select(Practitioner).order_by(Practitioner.national_id))
    prefix = search_key(someone.family)[:4]
    entries = every_page(client, gp, f"/fhir/Practitioner?family={prefix}")
    assert someone.national_id in {entry["resource"]["identifier"][0]["value"] for entry in entries}


def test_it_shows_imported_mailboxes_and_finds_their_owners(client, gp, db_session, imported):
    box = db_session.scalar(
        sa.select(Mailbox).where(Mailbox.practitioner_id.is_not(None)).order_by(Mailbox.address)
    )
    query = (
        f"/fhir/Practitioner?mailbox-mss={box.address}&_revinclude=PractitionerRole:practitioner"
    )
    entries = every_page(client, gp, query)
    (match,) = [entry for entry in entries if entry["search"]["mode"] == "match"]
    assert match["resource"]["id"] == str(box.practitioner_id)
    assert box.address in [item["value"] for item in match["resource"]["telecom"]]
    assert all(entry["resource"]["resourceType"] == "PractitionerRole" for entry in entries[1:])


def _expected_roles(db_session, name, specialty, postcode):
    """The roles a name + speciality + place search must list, in its order, found in Python:
    family-name matches by (family, given, practitioner, role), then given-name ones."""
    key = search_key(name)
    rows = db_session.execute(
        sa.select(PractitionerRole, Practitioner, Organization)
        .join(Practitioner, PractitionerRole.practitioner_id == Practitioner.id)
        .outerjoin(Organization, PractitionerRole.organization_id == Organization.id)
    ).all()
    family_part, given_part = [], []
    for role, who, where in rows:
        if specialty and role.savoir_faire_code != specialty:
            continue
        if postcode and not (where and where.postcode.startswith(postcode)):
            continue
        if who.family_search.startswith(key):
            family_part.append((who.family_search, who.given_search, who.id, role.id))
        elif who.given_search.startswith(key):
            given_part.append((who.given_search, who.family_search, who.id, role.id))
    return [str(item[-1]) for item in sorted(family_part) + sorted(given_part)]


def _combined_criteria(db_session):
    """Name prefixes, specialities and départements of the imported roles, so that some
    searches span pages, some match given names, some match nothing."""
    combos = db_session.execute(
        sa.select(
            Practitioner.family_search, PractitionerRole.savoir_faire_code, Organization.postcode
        )
        .join(Practitioner, PractitionerRole.practitioner_id == Practitioner.id)
        .join(Organization, PractitionerRole.organization_id == Organization.id)
        .where(PractitionerRole.savoir_faire_code != "")
        .order_by(PractitionerRole.fingerprint)
        .limit(6)
    ).all()
    criteria = [(family[:1], code, postcode[:1]) for family, code, postcode in combos]
    criteria += [(family[:4], code, postcode) for family, code, postcode in combos[:2]]
    return [*criteria, ("ma", None, "2"), ("j", "SM54", None), ("zz", "SM54", "29")]


def test_it_lists_a_name_speciality_and_place_search_as_a_plain_filter_of_every_role_would(
    client, gp, db_session, imported
):
    for name, specialty, postcode in _combined_criteria(db_session):
        query = f"/fhir/PractitionerRole?practitioner.name={name}&_count=3"
        query += f"&specialty={specialty}" if specialty else ""
        query += f"&organization.address-postalcode={postcode}" if postcode else ""
        found = [entry["resource"]["id"] for entry in every_page(client, gp, query)]
        expected = _expected_roles(db_session, name, specialty, postcode)
        assert found == expected, (name, specialty, postcode)


def test_it_finds_with_a_place_checked_role_by_role_what_the_places_subquery_finds(
    db_session, imported
):
    """A chained filter that does not lead is an EXISTS on the referenced row; leading, it is
    the subquery of every matching row: both select the same roles."""
    for name, specialty, postcode in _combined_criteria(db_session):
        filters = [parse_filter("PractitionerRole", "practitioner.name", None, name)]
        if specialty:
            filters.append(parse_filter("PractitionerRole", "specialty", None, specialty))
        if postcode:
            place = "organization.address-postalcode"
            filters.append(parse_filter("PractitionerRole", place, None, postcode))
        found = {}
        for indexed in (True, False):
            where = [condition(PractitionerRole, item, indexed=indexed) for item in filters]
            found[indexed] = set(db_session.scalars(sa.select(PractitionerRole.id).where(*where)))
        assert found[True] == found[False], (name, specialty, postcode)
        assert len(found[False]) == len(_expected_roles(db_session, name, specialty, postcode))
