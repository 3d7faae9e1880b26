"""The FHIR API over a directory filled by the importer from a generated regional extract.

Every page of every resource type is fetched by following the `next` links, and every Bundle and
resource in it is validated by fhir.resources.
"""

import pytest
import sqlalchemy as sa
from directory.extract import generate
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
