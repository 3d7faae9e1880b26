"""The directory pages, against a loopback stand-in of the directory's FHIR and import APIs."""

import http.server
import io
import json
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP

import pytest
from servicekit.testing import LoopbackServer

MSSANTE_EXTENSION = {
    "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type",
    "valueCoding": {
        "system": "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie",
        "code": "MSSANTE",
    },
}
LEFEVRE_ID = "0b7e1f8e-5d0c-4b1a-9f0e-111111111111"
CHU_ID = "0b7e1f8e-5d0c-4b1a-9f0e-222222222222"
ROLE_ID = "0b7e1f8e-5d0c-4b1a-9f0e-333333333333"


def _identifier(system, value):
    return {"use": "official", "system": system, "value": value}


LEFEVRE = {
    "resourceType": "Practitioner",
    "id": LEFEVRE_ID,
    "active": True,
    "identifier": [
        _identifier("urn:oid:1.2.250.1.71.4.2.1", "810100012345"),
        _identifier("https://rpps.esante.gouv.fr", "10100012345"),
    ],
    "name": [{"use": "official", "family": "Lefèvre", "given": ["Hélène"], "prefix": ["Dr"]}],
    "telecom": [
        {
            "extension": [MSSANTE_EXTENSION],
            "system": "email",
            "value": "helene.lefevre@medecin.mssante.fr",
        }
    ],
}
CHU = {
    "resourceType": "Organization",
    "id": CHU_ID,
    "active": True,
    "identifier": [_identifier("http://finess.esante.gouv.fr", "310781406")],
    "name": "CHU de Toulouse",
    "telecom": [{"system": "phone", "value": "0561777777"}],
    "address": [{"line": ["2 rue Viguerie"], "city": "Toulouse", "postalCode": "31059"}],
}
NEUROLOGY = {
    "resourceType": "PractitionerRole",
    "id": ROLE_ID,
    "active": True,
    "practitioner": {"reference": f"Practitioner/{LEFEVRE_ID}"},
    "organization": {"reference": f"Organization/{CHU_ID}"},
    "code": [{"coding": [{"code": "10", "display": "Médecin"}]}],
    "specialty": [{"coding": [{"code": "SM42", "display": "Neurologie"}]}],
    "telecom": [
        {"extension": [MSSANTE_EXTENSION], "system": "email", "value": "neuro@chu.mssante.fr"}
    ],
}


def bundle(matches, includes=(), total=None, next_page=False):
    """A searchset Bundle as the directory answers it."""
    entries = [{"resource": item, "search": {"mode": "match"}} for item in matches]
    entries += [{"resource": item, "search": {"mode": "include"}} for item in includes]
    links = [{"relation": "self", "url": "http://directory/fhir/x"}]
    if next_page:
        links.append({"relation": "next", "url": "http://directory/fhir/x?_offset=20"})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches) if total is None else total,
        "link": links,
        "entry": entries,
    }


RUN = {
    "id": 7,
    "kind": "ps_libreacces",
    "file_name": "extraction-2026-11.txt",
    "status": "running",
    "bytes_total": 1000,
    "bytes_read": 425,
    "progress": 0.425,
    "lines": 1200,
    "imported": 1190,
    "rejected": 4,
    "warned": 6,
    "created": 1100,
    "updated": 90,
    "deactivated": 0,
    "requested_by": "admin-1",
    "requested_at": "2026-11-29T09:00:00+00:00",
    "started_at": "2026-11-29T09:00:01+00:00",
    "finished_at": None,
    "error": None,
}
REJECTIONS = {
    "items": [
        {"line": 17, "column": "Identifiant PP", "reason": "RPPS invalide", "severity": "error"},
        {"line": 42, "column": None, "reason": "Nombre de colonnes : 12", "severity": "error"},
    ],
    "total": 2,
}


class FakeDirectory(LoopbackServer):
    """The directory's /fhir and /api/v1 on a loopback port, answering what a test prepares."""

    def __init__(self):
        super().__init__(self._handler())
        self.reset()

    def reset(self):
        self.requests = []
        self.answers = {}  # "METHOD /path" -> (status, body)
        self.drops = 0  # requests to read and then leave unanswered, closing their connection

    def calls(self, method, path):
        return [call for call in self.requests if (call["method"], call["path"]) == (method, path)]

    def _handler(self):
        directory = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # connections stay open, as gunicorn's threaded workers

            def _serve(self):
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length) if length else b""
                directory.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "query": urllib.parse.parse_qs(query),
                        "headers": dict(self.headers),
                        "body": body,
                        "connection": self.client_address,
                    }
                )
                if directory.drops:  # as a kept connection closed by the server as it was used
                    directory.drops -= 1
                    self.close_connection = True
                    return
                if path == "/healthz":
                    status, answer = 200, {"status": "ok"}
                else:
                    status, answer = directory.answers.get(
                        f"{self.command} {path}", (404, {"error": "Not found."})
                    )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="session")
def directory_service():
    with FakeDirectory() as directory:
        yield directory


@pytest.fixture
def settings(settings, directory_service, monkeypatch):
    """The portal's environment with the directory deployed."""
    directory_service.reset()
    monkeypatch.setenv("DIRECTORY_URL", directory_service.url)
    return {**settings, "DIRECTORY_URL": directory_service.url}


@pytest.fixture
def neurologist(client, personas):
    """A hospital neurologist looking for a colleague."""
    personas.login(client, "neuro-1", ["stroke-neurologist"], given_name="Marc")
    return client


def _multipart(call):
    """The parts of a multipart/form-data body: name -> (filename, content)."""
    head = f"Content-Type: {call['headers']['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + call["body"])
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


def test_it_sends_a_visitor_without_login_to_identity(client):
    response = client.get("/annuaire?nom=lef")
    assert response.status_code in (302, 303)
    assert "/annuaire" not in response.headers["Location"].split("?")[0]


def test_it_shows_an_empty_search_form_in_french_without_calling_the_directory(
    gp, directory_service
):
    page = gp.get("/annuaire").get_data(as_text=True)
    assert "Nom du professionnel" in page
    assert "Ville ou code postal" in page
    assert '<option value="s-SM26"' in page
    assert 'src="/static/directory.js"' in page
    assert "<script>" not in page
    assert directory_service.requests == []


def test_it_finds_practitioners_by_name_with_the_users_token(gp, directory_service):
    answer = bundle([LEFEVRE], includes=[NEUROLOGY])
    directory_service.answers["GET /fhir/Practitioner"] = (200, answer)
    page = gp.get("/annuaire?nom=lef%C3%A8").get_data(as_text=True)
    assert "Dr Hélène Lefèvre" in page
    assert "Médecin · Neurologie" in page
    assert f"/annuaire/professionnels/{LEFEVRE_ID}" in page
    assert "1 résultat(s)" in page
    call = directory_service.calls("GET", "/fhir/Practitioner")[-1]
    assert call["query"]["name"] == ["lefè"]
    assert call["query"]["_offset"] == ["0"]
    assert call["query"]["_revinclude"] == ["PractitionerRole:practitioner"]
    assert call["headers"]["Authorization"].startswith("Bearer ey")


def test_it_searches_a_speciality_with_practitioners_and_organisations_included(
    neurologist, directory_service
):
    answer = bundle([NEUROLOGY], includes=[LEFEVRE, CHU])
    directory_service.answers["GET /fhir/PractitionerRole"] = (200, answer)
    page = neurologist.get("/annuaire?filtre=s-SM42&lieu=toul").get_data(as_text=True)
    assert "Dr Hélène Lefèvre" in page
    assert "Médecin · Neurologie" in page
    assert "CHU de Toulouse" in page
    query = directory_service.calls("GET", "/fhir/PractitionerRole")[-1]["query"]
    assert query["specialty"] == ["SM42"]
    assert sorted(query["_include"]) == [
        "PractitionerRole:organization",
        "PractitionerRole:practitioner",
    ]


def test_it_lets_the_directory_combine_profession_name_and_place(gp, directory_service):
    answer = bundle([NEUROLOGY], includes=[LEFEVRE, CHU])
    directory_service.answers["GET /fhir/PractitionerRole"] = (200, answer)
    page = gp.get("/annuaire?filtre=p-10&nom=lef%C3%A8&lieu=31059").get_data(as_text=True)
    assert "Dr Hélène Lefèvre" in page
    assert "CHU de Toulouse" in page
    query = directory_service.calls("GET", "/fhir/PractitionerRole")[-1]["query"]
    assert query["role"] == ["10"]
    assert query["practitioner.name"] == ["lefè"]
    assert query["organization.address-postalcode"] == ["31059"]
    assert (query["_offset"], query["_count"]) == (["0"], ["20"])


def test_it_offers_every_profession_the_directory_knows_as_a_filter(gp, directory_service):
    page = gp.get("/annuaire").get_data(as_text=True)
    for code, label in [("10", "Médecin"), ("21", "Pharmacien"), ("50", "Sage-Femme")]:
        assert f'<option value="p-{code}">{label}</option>' in page
    directory_service.answers["GET /fhir/PractitionerRole"] = (200, bundle([]))
    gp.get("/annuaire?filtre=p-21&lieu=35238")
    query = directory_service.calls("GET", "/fhir/PractitionerRole")[-1]["query"]
    assert query["role"] == ["21"]


def test_it_searches_activities_for_a_name_in_a_city(gp, directory_service):
    answer = bundle([NEUROLOGY], includes=[LEFEVRE, CHU])
    directory_service.answers["GET /fhir/PractitionerRole"] = (200, answer)
    page = gp.get("/annuaire?nom=lefevre&lieu=toulouse").get_data(as_text=True)
    assert "Dr Hélène Lefèvre" in page
    query = directory_service.calls("GET", "/fhir/PractitionerRole")[-1]["query"]
    assert query["practitioner.name"] == ["lefevre"]
    assert query["organization.address-city"] == ["toulouse"]
    assert "role" not in query and "specialty" not in query
    assert directory_service.calls("GET", "/fhir/Practitioner") == []


def test_it_finds_organisations_by_postcode(gp, directory_service):
    directory_service.answers["GET /fhir/Organization"] = (200, bundle([CHU]))
    page = gp.get("/annuaire?lieu=31059").get_data(as_text=True)
    assert "CHU de Toulouse" in page
    query = directory_service.calls("GET", "/fhir/Organization")[-1]["query"]
    assert query["address-postalcode"] == ["31059"]


def test_it_pages_through_the_results(gp, directory_service):
    answer = bundle([LEFEVRE], total=45, next_page=True)
    directory_service.answers["GET /fhir/Practitioner"] = (200, answer)
    page = gp.get("/annuaire?nom=lef&page=2").get_data(as_text=True)
    assert "45 résultat(s)" in page
    assert "page=3" in page and "page=1" in page
    assert "Page précédente" in page and "Page suivante" in page
    query = directory_service.calls("GET", "/fhir/Practitioner")[-1]["query"]
    assert (query["_offset"], query["_count"]) == (["20"], ["20"])


def test_it_asks_to_narrow_a_search_the_directory_did_not_count(gp, directory_service):
    answer = bundle([LEFEVRE], next_page=True)
    del answer["total"]  # more matches than the directory counts without _total=accurate
    directory_service.answers["GET /fhir/Practitioner"] = (200, answer)
    page = gp.get("/annuaire?nom=martin").get_data(as_text=True)
    assert "Dr Hélène Lefèvre" in page
    assert "De nombreux résultats : précisez la recherche" in page
    assert "résultat(s)" not in page and "Page suivante" in page


def test_it_serves_the_results_alone_for_the_search_as_you_type_script(gp, directory_service):
    directory_service.answers["GET /fhir/Practitioner"] = (200, bundle([LEFEVRE]))
    response = gp.get("/annuaire/resultats?nom=lef")
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Dr Hélène Lefèvre" in fragment
    assert "<html" not in fragment


def test_it_refuses_malformed_criteria_without_calling_the_directory(gp, directory_service):
    page = gp.get("/annuaire?filtre=s-SM42%27%3B&page=0").get_data(as_text=True)
    assert "Les critères de recherche ne sont pas valides." in page
    assert directory_service.requests == []


def test_it_says_in_french_that_the_directory_is_down(gp, app):
    app.config["DIRECTORY_URL"] = "http://127.0.0.1:9"
    page = gp.get("/annuaire?nom=lef").get_data(as_text=True)
    assert "L’annuaire est momentanément indisponible ; réessayez plus tard." in page


def test_it_shows_a_practitioner_with_identifiers_activities_and_mailboxes(gp, directory_service):
    directory_service.answers[f"GET /fhir/Practitioner/{LEFEVRE_ID}"] = (200, LEFEVRE)
    answer = bundle([NEUROLOGY], includes=[LEFEVRE, CHU])
    directory_service.answers["GET /fhir/PractitionerRole"] = (200, answer)
    page = gp.get(f"/annuaire/professionnels/{LEFEVRE_ID}").get_data(as_text=True)
    assert "10100012345" in page and "RPPS" in page
    assert "810100012345" in page
    assert "Médecin · Neurologie" in page
    assert f"/annuaire/structures/{CHU_ID}" in page
    assert "helene.lefevre@medecin.mssante.fr" in page
    assert "neuro@chu.mssante.fr" in page
    query = directory_service.calls("GET", "/fhir/PractitionerRole")[-1]["query"]
    assert query["practitioner"] == [LEFEVRE_ID]


def test_it_shows_an_organisation_with_its_address_and_practitioners(gp, directory_service):
    directory_service.answers[f"GET /fhir/Organization/{CHU_ID}"] = (200, CHU)
    answer = bundle([NEUROLOGY], includes=[LEFEVRE, CHU])
    directory_service.answers["GET /fhir/PractitionerRole"] = (200, answer)
    page = gp.get(f"/annuaire/structures/{CHU_ID}").get_data(as_text=True)
    assert "CHU de Toulouse" in page
    assert "310781406" in page and "FINESS" in page
    assert "2 rue Viguerie" in page and "31059 Toulouse" in page
    assert "Dr Hélène Lefèvre" in page
    query = directory_service.calls("GET", "/fhir/PractitionerRole")[-1]["query"]
    assert query["organization"] == [CHU_ID]


def test_it_answers_404_in_french_for_an_unknown_practitioner(gp, directory_service):
    response = gp.get("/annuaire/professionnels/0b7e1f8e-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert "L’élément demandé n’existe pas ou plus." in response.get_data(as_text=True)


def test_it_keeps_the_import_pages_for_platform_administrators(gp, directory_service):
    assert gp.get("/annuaire/imports").status_code == 403
    assert gp.get("/annuaire/imports/7").status_code == 403
    assert directory_service.requests == []


def test_it_lists_the_import_runs_for_the_gcs_admin(gcs_admin, directory_service):
    directory_service.answers["GET /api/v1/imports"] = (200, {"items": [RUN], "total": 1})
    page = gcs_admin.get("/annuaire/imports").get_data(as_text=True)
    assert "extraction-2026-11.txt" in page
    assert "en cours" in page
    assert 'enctype="multipart/form-data"' in page


def test_it_forwards_an_uploaded_extract_to_the_directory(gcs_admin, directory_service, csrf_token):
    directory_service.answers["POST /api/v1/imports"] = (202, {**RUN, "status": "queued"})
    token = csrf_token(gcs_admin, "/annuaire")
    extract = b"Type d'identifiant PP|Identifiant PP\n8|10100012345\n"
    response = gcs_admin.post(
        "/annuaire/imports",
        data={"csrf_token": token, "fichier": (io.BytesIO(extract), "ps.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/annuaire/imports/7")
    call = directory_service.calls("POST", "/api/v1/imports")[-1]
    assert call["headers"]["Authorization"].startswith("Bearer ey")
    assert _multipart(call)["file"] == ("ps.txt", extract)


def test_it_keeps_its_connection_to_the_directory_from_one_search_to_the_next(
    gp, directory_service
):
    directory_service.answers["GET /fhir/Practitioner"] = (200, bundle([LEFEVRE]))
    gp.get("/annuaire?nom=lef")
    gp.get("/annuaire?nom=lefe")
    calls = directory_service.calls("GET", "/fhir/Practitioner")
    assert len(calls) == 2
    assert calls[0]["connection"] == calls[1]["connection"]


def test_a_search_the_directory_dropped_unanswered_is_sent_again_once(gp, directory_service):
    directory_service.answers["GET /fhir/Practitioner"] = (200, bundle([LEFEVRE]))
    gp.get("/annuaire?nom=lef")  # a connection to keep
    directory_service.drops = 1

    page = gp.get("/annuaire?nom=lefe").get_data(as_text=True)

    assert "Dr Hélène Lefèvre" in page
    calls = directory_service.calls("GET", "/fhir/Practitioner")
    assert [call["query"]["name"] for call in calls] == [["lef"], ["lefe"], ["lefe"]]
    assert calls[1]["connection"] != calls[2]["connection"]


def test_an_upload_the_directory_dropped_unanswered_is_not_sent_again(
    gcs_admin, directory_service, csrf_token
):
    directory_service.answers["POST /api/v1/imports"] = (202, {**RUN, "status": "queued"})
    token = csrf_token(gcs_admin, "/annuaire")
    directory_service.drops = 1

    response = gcs_admin.post(
        "/annuaire/imports",
        data={"csrf_token": token, "fichier": (io.BytesIO(b"8|10100012345\n"), "ps.txt")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )

    assert len(directory_service.calls("POST", "/api/v1/imports")) == 1
    assert "momentanément indisponible" in response.get_data(as_text=True)


def test_it_says_in_french_when_the_directory_refuses_the_file(
    gcs_admin, directory_service, csrf_token
):
    directory_service.answers["POST /api/v1/imports"] = (422, {"error": "not an extract"})
    token = csrf_token(gcs_admin, "/annuaire")
    gcs_admin.post(
        "/annuaire/imports",
        data={"csrf_token": token, "fichier": (io.BytesIO(b"x"), "photo.txt")},
        content_type="multipart/form-data",
    )
    page = gcs_admin.get("/annuaire/imports").get_data(as_text=True)
    assert "Ce fichier n’est pas une extraction de l’annuaire" in page


def test_it_shows_a_running_imports_progress_and_reloads_itself(gcs_admin, directory_service):
    directory_service.answers["GET /api/v1/imports/7"] = (200, RUN)
    directory_service.answers["GET /api/v1/imports/7/rejections"] = (200, REJECTIONS)
    response = gcs_admin.get("/annuaire/imports/7")
    page = response.get_data(as_text=True)
    assert response.headers["Refresh"] == "3"
    assert "42.5 %" in page
    assert "1190" in page
    assert "RPPS invalide" in page and "Nombre de colonnes : 12" in page
    assert "2 ligne(s) signalée(s)" in page


def test_it_stops_reloading_a_finished_import(gcs_admin, directory_service):
    finished = {**RUN, "status": "done", "progress": 1.0, "finished_at": "2026-11-29T09:02:00Z"}
    directory_service.answers["GET /api/v1/imports/7"] = (200, finished)
    directory_service.answers["GET /api/v1/imports/7/rejections"] = (200, REJECTIONS)
    response = gcs_admin.get("/annuaire/imports/7")
    assert "Refresh" not in response.headers
    assert "terminé" in response.get_data(as_text=True)


def test_it_forwards_an_extract_larger_than_an_ordinary_request(
    gcs_admin, directory_service, csrf_token
):
    directory_service.answers["POST /api/v1/imports"] = (202, {**RUN, "status": "queued"})
    token = csrf_token(gcs_admin, "/annuaire")
    extract = b"8|10100012345|Lef\xc3\xa8vre\n" * 100_000  # 2.6 MB, above the portal's 1 MB
    response = gcs_admin.post(
        "/annuaire/imports",
        data={"csrf_token": token, "fichier": (io.BytesIO(extract), "ps.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    call = directory_service.calls("POST", "/api/v1/imports")[-1]
    assert _multipart(call)["file"] == ("ps.txt", extract)
