"""FHIR searches over HTTP: every search parameter and modifier, on a small seeded directory.

Every Bundle the server answers is validated by fhir.resources (R4B models, R4 content).
"""

import pytest
from directory.fhir import samples, spec
from directory.fhir.validation import validate


@pytest.fixture
def directory(db_session):
    """A regional directory: a CHU and its legal entity, a practice, five practitioners."""
    return samples.seed(db_session)


@pytest.fixture
def fhir(client, gp):
    """GET a FHIR path as a GP; the response must be valid FHIR JSON."""

    def get(path, status=200):
        response = client.get(f"/fhir/{path}", headers=gp)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == "application/fhir+json"
        validate(response.json)
        return response.json

    return get


def ids(bundle, mode="match"):
    return {
        entry["resource"]["id"]
        for entry in bundle.get("entry", ())
        if entry["search"]["mode"] == mode
    }


def names(bundle):
    return sorted(
        entry["resource"]["name"][0]["family"]
        for entry in bundle.get("entry", ())
        if entry["search"]["mode"] == "match"
    )


def test_it_finds_practitioners_by_an_accent_insensitive_family_prefix(fhir, directory):
    assert names(fhir("Practitioner?family=lefe")) == ["Lefebvre", "Lefèvre"]
    assert names(fhir("Practitioner?family=LEFÈ")) == ["Lefebvre", "Lefèvre"]
    assert names(fhir("Practitioner?family=oeil")) == ["Œillet"]


def test_it_finds_a_hyphenated_given_name_typed_with_its_hyphen(fhir, directory):
    assert names(fhir("Practitioner?given=jean-f")) == ["Lefèvre"]
    assert names(fhir("Practitioner?given=jean")) == ["Lefèvre", "Martin"]


def test_it_matches_the_family_or_given_name_with_name(fhir, directory):
    assert names(fhir("Practitioner?name=jean")) == ["Lefèvre", "Martin"]
    assert names(fhir("Practitioner?name=dupont")) == ["Dupont-Aignan"]
    assert names(fhir("Practitioner?name=aignan")) == []


def test_it_matches_names_exactly_with_the_exact_modifier(fhir, directory):
    assert names(fhir("Practitioner?family:exact=Lefèvre")) == ["Lefèvre"]
    assert names(fhir("Practitioner?family:exact=lefevre")) == []
    assert names(fhir("Practitioner?given:exact=Jean")) == ["Martin"]
    assert names(fhir("Practitioner?name:exact=Marie")) == ["Lefebvre"]


def test_it_matches_inside_names_with_the_contains_modifier(fhir, directory):
    assert names(fhir("Practitioner?family:contains=aign")) == ["Dupont-Aignan"]
    assert names(fhir("Practitioner?given:contains=FRANÇ")) == ["Lefèvre"]
    assert names(fhir("Practitioner?name:contains=ebv")) == ["Lefebvre"]


def test_it_ands_repeated_parameters_and_ors_comma_separated_values(fhir, directory):
    assert names(fhir("Practitioner?family=lefe&given=mar")) == ["Lefebvre"]
    assert names(fhir("Practitioner?family=martin,oeil")) == ["Martin", "Œillet"]


def test_it_finds_a_practitioner_by_id(fhir, directory):
    bundle = fhir(f"Practitioner?_id={directory.martin.id},{directory.oeillet.id}")
    assert names(bundle) == ["Martin", "Œillet"]
    assert fhir("Practitioner?_id=not-a-uuid")["total"] == 0


def test_it_finds_a_practitioner_by_rpps_or_national_identifier(fhir, directory):
    assert names(fhir("Practitioner?identifier=https://rpps.esante.gouv.fr|10001234567")) == [
        "Lefèvre"
    ]
    assert names(fhir("Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|0123456789")) == [
        "Martin"
    ]
    assert names(fhir("Practitioner?identifier=10007654321")) == ["Lefebvre"]
    assert names(fhir("Practitioner?identifier=810007654321")) == ["Lefebvre"]
    assert names(fhir("Practitioner?identifier=0123456789")) == ["Martin"]
    every_rpps = names(fhir("Practitioner?identifier=https://rpps.esante.gouv.fr|"))
    assert every_rpps == ["Dupont-Aignan", "Lefebvre", "Lefèvre", "Œillet"]
    assert names(fhir("Practitioner?identifier=https://rpps.esante.gouv.fr|0123456789")) == []
    assert names(fhir("Practitioner?identifier=https://unknown.example|10001234567")) == []


def test_it_filters_on_active(fhir, directory):
    assert names(fhir("Practitioner?active=false")) == ["Dupont-Aignan"]
    assert len(names(fhir("Practitioner?active=true"))) == 4


def test_it_filters_on_last_updated_with_each_prefix(fhir, directory):
    assert names(fhir("Practitioner?_lastUpdated=lt2026-01-01")) == ["Lefèvre"]
    assert names(fhir("Practitioner?_lastUpdated=le2025-06-01")) == ["Lefèvre"]
    assert names(fhir("Practitioner?_lastUpdated=eq2025-06")) == ["Lefèvre"]
    assert len(names(fhir("Practitioner?_lastUpdated=gt2025-06-01"))) == 4
    assert len(names(fhir("Practitioner?_lastUpdated=ge2026-11-20T09:30:00Z"))) == 4
    assert names(fhir("Practitioner?_lastUpdated=gt2026-11-20T10:30:00%2B01:00")) == []


def test_it_finds_the_owner_of_an_mssante_mailbox(fhir, directory):
    address = "Jean-Francois.Lefevre@chu-rennes.mssante.fr"
    assert names(fhir(f"Practitioner?mailbox-mss={address}")) == ["Lefèvre"]
    roles = fhir(f"PractitionerRole?mailbox-mss={address}")
    assert ids(roles) == {str(directory.roles.neurologist.id), str(directory.roles.gp.id)}
    organizations = fhir("Organization?mailbox-mss=neurologie@chu-rennes.mssante.fr")
    assert ids(organizations) == {str(directory.chu.id)}
    assert ids(fhir(f"Organization?mailbox-mss={address}")) == set()


def test_it_lists_mailboxes_in_telecom(fhir, directory):
    (entry,) = fhir("Practitioner?family=lefev")["entry"]
    assert [item["value"] for item in entry["resource"]["telecom"]] == [
        "jean-francois.lefevre@chu-rennes.mssante.fr"
    ]
    chu = fhir(f"Organization/{directory.chu.id}")
    assert "neurologie@chu-rennes.mssante.fr" in [item["value"] for item in chu["telecom"]]


def test_it_finds_roles_by_practitioner_and_organization(fhir, directory):
    roles = directory.roles
    by_practitioner = fhir(f"PractitionerRole?practitioner=Practitioner/{directory.lefevre.id}")
    assert ids(by_practitioner) == {str(roles.neurologist.id), str(roles.gp.id)}
    by_organization = fhir(f"PractitionerRole?organization={directory.practice.id}")
    assert ids(by_organization) == {str(roles.gp.id), str(roles.nurse.id)}
    both = fhir(
        f"PractitionerRole?practitioner={directory.lefevre.id}&organization={directory.chu.id}"
    )
    assert ids(both) == {str(roles.neurologist.id)}


def test_it_finds_roles_by_profession_or_function(fhir, directory):
    roles = directory.roles
    assert ids(fhir("PractitionerRole?role=60")) == {str(roles.nurse.id)}
    assert ids(fhir(f"PractitionerRole?role={spec.PROFESSION}|60")) == {str(roles.nurse.id)}
    assert ids(fhir(f"PractitionerRole?role={spec.FONCTION}|FON-05")) == {str(roles.neurologist.id)}
    assert ids(fhir(f"PractitionerRole?role={spec.FONCTION}|60")) == set()


def test_it_finds_roles_by_specialty_with_or_without_its_system(fhir, directory):
    roles = directory.roles
    assert ids(fhir("PractitionerRole?specialty=SM32")) == {str(roles.neurologist.id)}
    oid = spec.SPECIALITES_ORDINALES_OID
    assert ids(fhir(f"PractitionerRole?specialty={oid}|SM32")) == {str(roles.neurologist.id)}
    by_url = fhir(f"PractitionerRole?specialty={spec.SPECIALITE_ORDINALE}|SM54")
    assert ids(by_url) == {str(roles.gp.id)}
    assert ids(fhir("PractitionerRole?specialty=urn:oid:1.2.250.1.213.2.29|SM32")) == set()
    whole_system = fhir(f"PractitionerRole?specialty={oid}|")
    assert ids(whole_system) == {
        str(roles.neurologist.id),
        str(roles.gp.id),
        str(roles.anaesthetist.id),
    }


def test_it_filters_roles_on_active_and_id(fhir, directory):
    former = str(directory.roles.former.id)
    assert ids(fhir("PractitionerRole?active=false")) == {former}
    assert ids(fhir(f"PractitionerRole?_id={former}")) == {former}


def test_it_finds_organizations_by_name_city_and_postcode(fhir, directory):
    practice = {str(directory.practice.id)}
    assert ids(fhir("Organization?name=cabinet medical saint-ex")) == practice
    assert ids(fhir("Organization?name:contains=EXUPÉ")) == practice
    assert ids(fhir("Organization?name:exact=CHU de Rennes")) == {str(directory.legal_entity.id)}
    assert ids(fhir("Organization?address-city=saint-e")) == practice
    assert ids(fhir("Organization?address-city:exact=Saint-Étienne")) == practice
    assert ids(fhir("Organization?address-city:contains=tienne")) == practice
    assert ids(fhir("Organization?address-postalcode=42")) == practice
    assert ids(fhir("Organization?address-postalcode=42000")) == practice
    assert ids(fhir("Organization?address-postalcode:contains=200")) == practice
    assert ids(fhir("Organization?address-postalcode:exact=4200")) == set()
    assert len(ids(fhir("Organization?address-postalcode=3"))) == 2


def test_it_finds_organizations_by_identifier_type_and_legal_entity(fhir, directory):
    chu = {str(directory.chu.id)}
    assert ids(fhir(f"Organization?identifier={spec.FINESS}|350000014")) == chu
    assert ids(fhir("Organization?identifier=12345678900011")) == {str(directory.practice.id)}
    assert ids(fhir(f"Organization?identifier={spec.SIRET}|350000014")) == set()
    assert ids(fhir("Organization?type=SA07")) == {str(directory.practice.id)}
    assert len(ids(fhir(f"Organization?type={spec.SECTEUR_ACTIVITE}|SA01"))) == 2
    assert ids(fhir(f"Organization?partof=Organization/{directory.legal_entity.id}")) == chu


def test_it_filters_organizations_on_active_last_updated_and_id(fhir, directory):
    assert len(ids(fhir("Organization?active=true"))) == 3
    assert ids(fhir("Organization?_lastUpdated=lt2000")) == set()
    assert ids(fhir(f"Organization?_id={directory.chu.id}")) == {str(directory.chu.id)}


def test_it_finds_roles_by_their_practitioners_name_through_a_chain(fhir, directory):
    roles = directory.roles
    both = {str(roles.neurologist.id), str(roles.gp.id)}
    assert ids(fhir("PractitionerRole?practitioner.name=lefev")) == both
    assert ids(fhir("PractitionerRole?practitioner.family=LEFÈ")) == both | {str(roles.nurse.id)}
    assert ids(fhir("PractitionerRole?practitioner.given:exact=Marie")) == {str(roles.nurse.id)}
    assert ids(fhir("PractitionerRole?practitioner.identifier=810003333333")) == {
        str(roles.anaesthetist.id)
    }


def test_it_combines_name_speciality_and_postcode_in_one_role_search(fhir, directory):
    roles = directory.roles
    found = fhir(
        "PractitionerRole?practitioner.name=lefevre&specialty=SM54"
        "&organization.address-postalcode=42&_include=PractitionerRole:practitioner"
    )
    assert ids(found) == {str(roles.gp.id)}
    assert ids(found, "include") == {str(directory.lefevre.id)}
    assert found["total"] == 1
    assert ids(fhir("PractitionerRole?organization.address-postalcode=35033")) == {
        str(roles.neurologist.id),
        str(roles.former.id),
        str(roles.anaesthetist.id),
    }
    assert ids(
        fhir("PractitionerRole?practitioner.name=lefevre&organization.address-city=saint-et")
    ) == {str(roles.gp.id)}
    assert ids(fhir("PractitionerRole?specialty=SM32&organization.name=cabinet")) == set()


def test_it_combines_the_practitioners_name_with_another_criterion_on_the_practitioner(
    fhir, directory
):
    # The name leads and is joined; the identifier is checked on the practitioner row apart.
    roles = directory.roles
    lefevre = "PractitionerRole?practitioner.name=lefe&practitioner.identifier=810001234567"
    assert ids(fhir(lefevre)) == {str(roles.neurologist.id), str(roles.gp.id)}
    assert ids(fhir(lefevre + "&_total=accurate&_count=1"))  # the count takes the same path
    assert ids(fhir(lefevre.replace("lefe", "mar"))) == set()


def test_it_keeps_the_chains_in_its_paging_links(fhir, directory):
    bundle = fhir("PractitionerRole?practitioner.family=lefe&_count=1")
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert "practitioner.family=lefe" in links["next"]
    assert len(ids(fhir(links["next"].split("/fhir/", 1)[1]))) == 1


@pytest.mark.parametrize(
    "query",
    [
        "PractitionerRole?practitioner.mailbox-mss=a@b.fr",
        "PractitionerRole?organization.partof=x",
        "PractitionerRole?patient.name=lefe",
        "Practitioner?organization.name=chu",
        "PractitionerRole?organization.address-postalcode=rennes",
    ],
)
def test_it_refuses_a_chain_it_does_not_support(fhir, directory, query):
    assert fhir(query, status=400)["issue"][0]["code"] == "invalid"
