"""The FHIR API's contract: reads, errors, access, paging, includes and the CapabilityStatement.

Every document the server answers is validated by fhir.resources (R4B models, R4 content).
"""

from urllib.parse import urlsplit

import pytest
from directory.fhir import query, samples, spec
from directory.fhir.validation import validate


@pytest.fixture
def directory(db_session):
    """A regional directory: a CHU and its legal entity, a practice, five practitioners."""
    return samples.seed(db_session)


@pytest.fixture
def fhir(client, gp):
    """GET a FHIR path (relative or absolute) as a GP; the answer must be valid FHIR JSON."""

    def get(path, status=200, headers=None):
        if path.startswith("http"):
            parts = urlsplit(path)
            path = f"{parts.path}?{parts.query}".removeprefix("/fhir/")
        response = client.get(f"/fhir/{path}", headers=gp if headers is None else headers)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == "application/fhir+json"
        validate(response.json)
        return response.json

    return get


def entries(bundle, mode):
    return [entry for entry in bundle.get("entry", ()) if entry["search"]["mode"] == mode]


def test_it_reads_each_resource_type_by_id(fhir, directory):
    practitioner = fhir(f"Practitioner/{directory.lefevre.id}")
    assert practitioner["name"][0]["family"] == "Lefèvre"
    role = fhir(f"PractitionerRole/{directory.roles.neurologist.id}")
    assert role["practitioner"]["reference"] == f"Practitioner/{directory.lefevre.id}"
    organization = fhir(f"Organization/{directory.chu.id}")
    assert organization["partOf"] == {"reference": f"Organization/{directory.legal_entity.id}"}


def test_it_answers_404_with_an_operation_outcome_for_an_unknown_id(fhir, directory):
    outcome = fhir("Practitioner/6c1b2b47-1f6c-4f57-9d25-0d7c1c0e9b11", status=404)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"
    assert fhir("Organization/not-a-uuid", status=404)["issue"][0]["code"] == "not-found"


def test_it_answers_404_for_a_resource_type_it_does_not_serve(fhir):
    outcome = fhir("Patient?family=martin", status=404)
    assert "Patient" in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_refuses_writes_with_an_operation_outcome(client, gp, directory, method):
    response = getattr(client, method)(f"/fhir/Practitioner/{directory.martin.id}", headers=gp)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    validate(response.json)
    assert response.json["issue"][0]["code"] == "not-supported"


def test_it_answers_400_for_an_unknown_search_parameter(fhir):
    outcome = fhir("Practitioner?family=martin&birthdate=1970", status=400)
    assert outcome["issue"][0]["code"] == "invalid"
    assert "birthdate" in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "query",
    [
        "Practitioner?active=yes",
        "Practitioner?_lastUpdated=yesterday",
        "Practitioner?_count=ten",
        "Practitioner?family:sounds=lefevre",
        "Practitioner?family=---",
        "Organization?address-postalcode=Rennes",
        "PractitionerRole?practitioner=Organization/1",
        "PractitionerRole?_include=Organization:partof",
    ],
)
def test_it_answers_400_for_a_malformed_value(fhir, query):
    assert fhir(query, status=400)["resourceType"] == "OperationOutcome"


def test_it_requires_an_access_token_and_answers_in_fhir_without_one(fhir):
    outcome = fhir("Practitioner?family=lefe", status=401, headers={})
    assert outcome["issue"][0]["code"] == "login"


def test_it_refuses_a_token_without_a_professional_role(fhir, tokens):
    headers = tokens.auth_header(sub="patient-portal", roles=[])
    assert fhir("metadata", status=403, headers=headers)["issue"][0]["code"] == "forbidden"


def test_it_lets_every_professional_role_search(fhir, tokens, directory):
    for role in ("platform-admin", "stroke-neurologist", "rcp-coordinator"):
        headers = tokens.auth_header(sub=f"someone-{role}", roles=[role])
        assert fhir("Practitioner?family=lefe", headers=headers)["total"] == 2


def test_it_counts_all_matches_unless_asked_not_to(fhir, directory):
    bundle = fhir("Practitioner?_count=2")
    assert bundle["total"] == 5
    assert len(entries(bundle, "match")) == 2
    assert "total" not in fhir("Practitioner?_count=2&_total=none")
    assert fhir("Practitioner?_count=0")["total"] == 5


def test_it_counts_a_large_result_only_when_asked_to(fhir, db_session, monkeypatch):
    monkeypatch.setattr(spec, "TOTAL_LIMIT", 4)
    samples.namesakes(db_session, "Petit", 6)
    assert "total" not in fhir("Practitioner?family=petit&_count=2")
    assert "total" not in fhir("Practitioner?family=petit&_count=2&_total=estimate")
    assert fhir("Practitioner?family=petit&_count=2&_total=accurate")["total"] == 6
    assert fhir("Practitioner?family=petit&_count=2&_offset=4")["total"] == 6
    assert fhir("Practitioner?family=petit&_count=0&_total=accurate")["total"] == 6
    assert fhir("Practitioner?family=pet&given=a000,a001,a002,a003&_count=2")["total"] == 4


def test_it_pages_with_links_followed_to_the_end_and_back(fhir, db_session):
    samples.namesakes(db_session, "Petit", 23)
    bundle = fhir("Practitioner?family=petit&_count=5")
    seen, pages = [], 0
    while True:
        pages += 1
        seen += [entry["resource"]["name"][0]["given"][0] for entry in entries(bundle, "match")]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        if "next" not in links:
            break
        bundle = fhir(links["next"])
    assert pages == 5
    assert seen == [f"A{index:03d}" for index in range(23)]
    assert bundle["total"] == 23
    previous = fhir(links["previous"])
    assert [entry["resource"]["name"][0]["given"][0] for entry in entries(previous, "match")] == [
        f"A{index:03d}" for index in range(15, 20)
    ]
    assert "_count=5" in links["self"] and "family=petit" in links["self"]


def test_it_pages_twenty_by_default(fhir, db_session):
    samples.namesakes(db_session, "Petit", 23)
    bundle = fhir("Practitioner?family=petit")
    assert len(entries(bundle, "match")) == 20
    assert any(link["relation"] == "next" for link in bundle["link"])


def test_it_serves_a_page_larger_than_100_at_100(fhir, db_session):
    samples.namesakes(db_session, "Petit", 101)
    bundle = fhir("Practitioner?family=petit&_count=500")
    assert len(entries(bundle, "match")) == 100
    assert "_count=100" in bundle["link"][0]["url"]


def test_it_gives_every_entry_a_full_url(fhir, directory):
    bundle = fhir("Practitioner?family=lefev")
    (entry,) = bundle["entry"]
    assert entry["fullUrl"] == f"http://localhost/fhir/Practitioner/{directory.lefevre.id}"


def test_it_writes_urls_under_the_public_address_when_one_is_set(app, fhir, directory):
    app.config["ENRS_PUBLIC_URL"] = "https://annuaire.enrs.example/"
    bundle = fhir("Practitioner?family=lefe&_count=1")
    assert bundle["entry"][0]["fullUrl"].startswith(
        "https://annuaire.enrs.example/fhir/Practitioner/"
    )
    assert all(
        link["url"].startswith("https://annuaire.enrs.example/fhir/") for link in bundle["link"]
    )


def test_it_includes_the_practitioners_and_organizations_of_roles(fhir, directory):
    query = "PractitionerRole?specialty=SM32&_include=PractitionerRole:practitioner"
    bundle = fhir(query + "&_include=PractitionerRole:organization")
    assert [entry["resource"]["id"] for entry in entries(bundle, "match")] == [
        str(directory.roles.neurologist.id)
    ]
    assert {
        (e["resource"]["resourceType"], e["resource"]["id"]) for e in entries(bundle, "include")
    } == {
        ("Practitioner", str(directory.lefevre.id)),
        ("Organization", str(directory.chu.id)),
    }
    assert bundle["total"] == 1


def test_it_includes_the_legal_entity_of_an_organization(fhir, directory):
    bundle = fhir("Organization?identifier=350000014&_include=Organization:partof")
    included = entries(bundle, "include")
    assert [entry["resource"]["id"] for entry in included] == [str(directory.legal_entity.id)]


def test_it_includes_an_entry_once_and_never_a_match_again(fhir, directory):
    bundle = fhir("Organization?name=chu&_include=Organization:partof")
    assert len(entries(bundle, "match")) == 2
    assert entries(bundle, "include") == []


def test_it_revincludes_the_roles_of_practitioners(fhir, directory):
    bundle = fhir("Practitioner?family=lefe&_revinclude=PractitionerRole:practitioner")
    included = {entry["resource"]["id"] for entry in entries(bundle, "include")}
    roles = directory.roles
    assert included == {str(roles.neurologist.id), str(roles.gp.id), str(roles.nurse.id)}


def test_it_revincludes_the_roles_of_organizations(fhir, directory):
    query = f"Organization?_id={directory.practice.id}&_revinclude=PractitionerRole:organization"
    included = {entry["resource"]["id"] for entry in entries(fhir(query), "include")}
    assert included == {str(directory.roles.gp.id), str(directory.roles.nurse.id)}


def test_it_says_when_a_page_leaves_revincluded_roles_out(fhir, directory, monkeypatch):
    monkeypatch.setattr(query, "MAX_REVINCLUDED", 2)
    url = f"Organization?_id={directory.chu.id}&_revinclude=PractitionerRole:organization"
    bundle = fhir(url)
    assert len(entries(bundle, "include")) == 2
    (outcome,) = entries(bundle, "outcome")
    assert outcome["resource"]["issue"][0]["code"] == "incomplete"


def test_it_describes_exactly_what_it_supports_in_its_capability_statement(fhir):
    statement = fhir("metadata")
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["application/fhir+json"]
    (rest,) = statement["rest"]
    resources = {resource["type"]: resource for resource in rest["resource"]}
    assert set(resources) == {"Practitioner", "PractitionerRole", "Organization"}
    for kind, resource in resources.items():
        assert [item["code"] for item in resource["interaction"]] == ["read", "search-type"]
        assert {item["name"] for item in resource["searchParam"]} == set(
            spec.SEARCH_PARAMETERS[kind]
        )
        assert resource.get("searchInclude", []) == list(spec.INCLUDES[kind])
        assert resource.get("searchRevInclude", []) == list(spec.REVINCLUDES[kind])
    assert resources["PractitionerRole"]["searchInclude"] == [
        "PractitionerRole:practitioner",
        "PractitionerRole:organization",
    ]
    assert resources["Organization"]["searchRevInclude"] == ["PractitionerRole:organization"]
    assert {item["name"] for item in rest["searchParam"]} == {"_count", "_offset", "_total"}


SAMPLE_VALUES = {
    "string": "a",
    "token": "x",
    "reference": "6c1b2b47-1f6c-4f57-9d25-0d7c1c0e9b11",
    "date": "ge2020-01-01",
    "number": "3",
}


def test_it_accepts_every_search_parameter_its_capability_statement_lists(fhir):
    rest = fhir("metadata")["rest"][0]
    for resource in rest["resource"]:
        for parameter in resource["searchParam"] + rest["searchParam"]:
            value = SAMPLE_VALUES[parameter["type"]]
            if parameter["name"] in ("active", "_total"):
                value = {"active": "true", "_total": "accurate"}[parameter["name"]]
            if parameter["name"] == "address-postalcode":
                value = "35"
            fhir(f"{resource['type']}?{parameter['name']}={value}")
