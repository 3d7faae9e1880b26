"""The resource mappers, fed plain attributes, give valid FHIR R4 with the national systems."""

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from directory.fhir import documents, resources, spec
from directory.fhir.validation import validate

UPDATED = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)


def a_practitioner(**changes):
    values = {
        "id": uuid.uuid4(),
        "national_id": "810001234567",
        "rpps": "10001234567",
        "civilite_exercice": "DR",
        "family": "Lefèvre",
        "given": "Jean-François",
        "active": True,
        "updated_at": UPDATED,
    }
    return SimpleNamespace(**(values | changes))


def a_role(**changes):
    values = {
        "id": uuid.uuid4(),
        "practitioner_id": uuid.uuid4(),
        "organization_id": uuid.uuid4(),
        "profession_code": "10",
        "profession": "Médecin",
        "role_code": "FON-01",
        "savoir_faire_code": "SM32",
        "savoir_faire": "Neurologie (SM)",
        "active": True,
        "updated_at": UPDATED,
    }
    return SimpleNamespace(**(values | changes))


def an_organization(**changes):
    values = {
        "id": uuid.uuid4(),
        "finess": "350000014",
        "siret": "26350579400015",
        "name": "CHU de Rennes - Pontchaillou",
        "trade_name": "Hôpital Pontchaillou",
        "address_line": "2 rue Henri Le Guilloux",
        "postcode": "35033",
        "city": "Rennes",
        "phone": "0299284321",
        "email": "accueil@chu-rennes.fr",
        "sector_code": "SA01",
        "part_of": "350005179",
        "active": True,
        "updated_at": UPDATED,
    }
    return SimpleNamespace(**(values | changes))


def mailbox(address):
    return SimpleNamespace(address=address)


def test_it_maps_a_practitioner_with_the_national_identifier_systems():
    row = a_practitioner()
    resource = resources.practitioner(row, [mailbox("jf.lefevre@chu-rennes.mssante.fr")])
    validate(resource)
    assert resource["id"] == str(row.id)
    assert resource["meta"] == {"lastUpdated": "2026-11-02T08:30:00.000Z"}
    assert [(item["system"], item["value"]) for item in resource["identifier"]] == [
        ("urn:oid:1.2.250.1.71.4.2.1", "810001234567"),
        ("https://rpps.esante.gouv.fr", "10001234567"),
    ]
    assert resource["name"] == [
        {"use": "official", "family": "Lefèvre", "given": ["Jean-François"], "prefix": ["Dr"]}
    ]


def test_it_shows_an_mssante_mailbox_as_an_email_tagged_with_the_fr_core_extension():
    resource = resources.practitioner(a_practitioner(), [mailbox("jf.lefevre@chu.mssante.fr")])
    (telecom,) = resource["telecom"]
    assert telecom["system"] == "email"
    assert telecom["value"] == "jf.lefevre@chu.mssante.fr"
    assert telecom["extension"][0]["url"] == spec.EMAIL_TYPE_EXTENSION
    assert telecom["extension"][0]["valueCoding"]["code"] == "MSSANTE"


def test_it_maps_an_adeli_practitioner_without_name_parts_it_does_not_have():
    row = a_practitioner(
        national_id="0123456789", rpps=None, given="", civilite_exercice="", active=False
    )
    resource = resources.practitioner(row)
    validate(resource)
    assert [item["value"] for item in resource["identifier"]] == ["0123456789"]
    assert resource["name"] == [{"use": "official", "family": "Lefèvre"}]
    assert resource["active"] is False
    assert "telecom" not in resource


def test_it_maps_a_role_with_profession_function_and_savoir_faire_codes():
    row = a_role()
    resource = resources.practitioner_role(row)
    validate(resource)
    assert resource["practitioner"] == {"reference": f"Practitioner/{row.practitioner_id}"}
    assert resource["organization"] == {"reference": f"Organization/{row.organization_id}"}
    assert [code["coding"][0]["system"] for code in resource["code"]] == [
        spec.PROFESSION,
        spec.FONCTION,
    ]
    assert resource["specialty"] == [
        {
            "coding": [
                {
                    "system": "urn:oid:1.2.250.1.213.2.28",
                    "code": "SM32",
                    "display": "Neurologie (SM)",
                }
            ]
        }
    ]


def test_it_gives_a_savoir_faire_code_the_system_its_value_set_names():
    assert resources.savoir_faire_system("SM32") == spec.SPECIALITES_ORDINALES_OID
    assert resources.savoir_faire_system("C03") == "urn:oid:1.2.250.1.213.2.29"
    assert "SM32" in resources.codes_of_system(spec.SPECIALITE_ORDINALE)
    assert resources.savoir_faire_system("XX99") is None


def test_it_shows_a_savoir_faire_code_outside_the_value_set_without_a_system():
    resource = resources.practitioner_role(a_role(savoir_faire_code="XX99", savoir_faire=""))
    validate(resource)
    assert resource["specialty"] == [{"coding": [{"code": "XX99"}]}]


def test_it_maps_a_role_without_organization_or_savoir_faire():
    row = a_role(organization_id=None, savoir_faire_code="", savoir_faire="", role_code="")
    resource = resources.practitioner_role(row)
    validate(resource)
    assert "organization" not in resource
    assert "specialty" not in resource
    assert len(resource["code"]) == 1


def test_it_maps_an_organization_with_finess_siret_sector_address_and_contacts():
    parent = uuid.uuid4()
    row = an_organization()
    resource = resources.organization(row, [mailbox("neuro@chu.mssante.fr")], parent)
    validate(resource)
    assert [(item["system"], item["value"]) for item in resource["identifier"]] == [
        ("http://finess.esante.gouv.fr", "350000014"),
        ("https://sirene.fr", "26350579400015"),
    ]
    assert resource["type"][0]["coding"][0] == {"system": spec.SECTEUR_ACTIVITE, "code": "SA01"}
    assert resource["alias"] == ["Hôpital Pontchaillou"]
    assert resource["address"][0]["city"] == "Rennes"
    assert resource["address"][0]["postalCode"] == "35033"
    assert [item["system"] for item in resource["telecom"]] == ["phone", "email", "email"]
    assert resource["partOf"] == {"reference": f"Organization/{parent}"}


def test_it_names_a_legal_entity_outside_the_directory_by_its_finess():
    resource = resources.organization(an_organization())
    validate(resource)
    assert resource["partOf"]["identifier"]["system"] == spec.FINESS
    assert resource["partOf"]["identifier"]["value"] == "350005179"


def test_it_maps_a_bare_organization_without_empty_elements():
    row = an_organization(
        finess=None,
        siret=None,
        trade_name="",
        address_line="",
        postcode="",
        city="",
        phone="",
        email="",
        sector_code="",
        part_of=None,
    )
    resource = resources.organization(row)
    validate(resource)
    assert set(resource) == {"resourceType", "id", "meta", "active", "name"}


def test_it_writes_an_operation_outcome_and_a_capability_statement_that_validate():
    validate(documents.outcome("The search parameter 'x' is not supported."))
    statement = documents.capability_statement("https://enrs.example/fhir")
    validate(statement)
    assert statement["fhirVersion"] == "4.0.1"


def test_its_validator_refuses_what_fhir_r4_does_not_allow():
    with pytest.raises(ValueError, match="active"):
        validate({"resourceType": "Practitioner", "active": "maybe"})
    with pytest.raises(ValueError, match="empty"):
        validate({"resourceType": "Practitioner", "identifier": []})
