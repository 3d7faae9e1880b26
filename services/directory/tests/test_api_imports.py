"""The import API of the portal's admin page: upload, queue, progress, rejected lines."""

import io
import zipfile
from pathlib import Path

import pytest
from directory.extract import generate
from directory.imports import jobs

BROKEN = {3: "bad-rpps", 6: "empty-name"}


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    """A 120-line snapshot with two broken lines."""
    folder = tmp_path_factory.mktemp("extract")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 120, seed=11, broken=BROKEN)


def upload(client, headers, content, name="PS_LibreAcces_Personne_activite.txt", **form):
    data = {"file": (io.BytesIO(content), name), **form}
    return client.post(
        "/api/v1/imports", data=data, headers=headers, content_type="multipart/form-data"
    )


def test_an_admin_uploads_an_extract_and_the_worker_imports_it(app, client, gcs_admin, extract):
    queued = upload(client, gcs_admin, extract.path.read_bytes())

    assert queued.status_code == 202, queued.json
    run = queued.json
    assert (run["status"], run["kind"], run["lines"]) == ("queued", "ps", 0)
    assert "path" not in run
    assert jobs.run_queued(app) == 1
    done = client.get(f"/api/v1/imports/{run['id']}", headers=gcs_admin).json
    assert (done["status"], done["lines"], done["imported"], done["rejected"]) == (
        "done",
        120,
        118,
        2,
    )
    assert done["progress"] == 1.0
    assert done["created"] > 0 and done["finished_at"]


def test_the_worker_has_nothing_to_do_without_a_queued_import(app):
    assert jobs.run_queued(app) == 0


def test_an_admin_reads_the_rejected_lines_with_column_and_reason(app, client, gcs_admin, extract):
    run = upload(client, gcs_admin, extract.path.read_bytes()).json
    jobs.run_queued(app)

    page = client.get(f"/api/v1/imports/{run['id']}/rejections?severity=error", headers=gcs_admin)

    assert page.status_code == 200
    assert page.json["total"] == 2
    assert [(row["line"], row["column"]) for row in page.json["items"]] == [
        (3, "Identifiant PP"),
        (6, "Nom d'exercice"),
    ]
    assert all(row["reason"] and row["severity"] == "error" for row in page.json["items"])


def test_it_pages_the_rejected_lines(app, client, gcs_admin, extract):
    run = upload(client, gcs_admin, extract.path.read_bytes()).json
    jobs.run_queued(app)

    page = client.get(f"/api/v1/imports/{run['id']}/rejections?offset=1&limit=1", headers=gcs_admin)

    assert page.json["total"] >= 2
    assert len(page.json["items"]) == 1


def test_an_admin_lists_imports_newest_first(app, client, gcs_admin, extract):
    first = upload(client, gcs_admin, extract.path.read_bytes()).json
    second = upload(client, gcs_admin, extract.mssante_path.read_bytes(), name="mss.txt").json

    listing = client.get("/api/v1/imports", headers=gcs_admin).json

    assert [run["id"] for run in listing["items"]] == [second["id"], first["id"]]
    assert listing["total"] == 2
    assert second["kind"] == "mssante"


def test_it_accepts_a_zipped_extract(app, client, gcs_admin, extract):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(extract.path, extract.path.name)

    run = upload(client, gcs_admin, buffer.getvalue(), name="PS_LibreAcces.zip").json
    jobs.run_queued(app)

    done = client.get(f"/api/v1/imports/{run['id']}", headers=gcs_admin).json
    assert (done["status"], done["imported"]) == ("done", 118)


def test_a_gp_may_not_import_nor_see_imports(client, gp, extract):
    assert upload(client, gp, extract.path.read_bytes()).status_code == 403
    assert client.get("/api/v1/imports", headers=gp).status_code == 403
    assert client.get("/api/v1/imports/1/rejections", headers=gp).status_code == 403


def test_it_requires_a_token(client, extract):
    assert upload(client, {}, extract.path.read_bytes()).status_code == 401
    assert client.get("/api/v1/imports").status_code == 401


def test_it_refuses_a_request_without_a_file(client, gcs_admin):
    response = client.post(
        "/api/v1/imports", data={}, headers=gcs_admin, content_type="multipart/form-data"
    )

    assert response.status_code == 400
    assert response.json["error"]


def test_it_refuses_a_file_that_is_not_a_text_or_zip_extract(client, gcs_admin):
    response = upload(client, gcs_admin, b"%PDF-1.7", name="annuaire.pdf")

    assert response.status_code == 400


def test_it_refuses_a_text_file_that_is_no_extract(client, gcs_admin, app):
    response = upload(client, gcs_admin, b"bonjour|le|monde\n", name="notes.txt")

    assert response.status_code == 422
    assert "format" in response.json["error"]
    assert not any(Path(app.config["IMPORT_DIR"]).iterdir())


def test_it_refuses_an_unknown_form_field_or_kind(client, gcs_admin, extract):
    content = extract.path.read_bytes()

    assert upload(client, gcs_admin, content, colour="bleu").status_code == 400
    assert upload(client, gcs_admin, content, kind="finess").status_code == 400


def test_it_refuses_a_file_over_the_import_size_limit(app, client, gcs_admin, extract):
    app.config["IMPORT_MAX_BYTES"] = 1000

    response = upload(client, gcs_admin, extract.path.read_bytes())

    assert response.status_code == 413


def test_it_accepts_an_extract_larger_than_ordinary_request_bodies(app, client, gcs_admin, extract):
    app.config["MAX_CONTENT_LENGTH"] = 1000

    assert upload(client, gcs_admin, extract.path.read_bytes()).status_code == 202


def test_it_refuses_bad_paging_and_answers_404_for_an_unknown_import(client, gcs_admin):
    assert client.get("/api/v1/imports?limit=0", headers=gcs_admin).status_code == 400
    assert client.get("/api/v1/imports?page=2", headers=gcs_admin).status_code == 400
    assert client.get("/api/v1/imports/999999", headers=gcs_admin).status_code == 404
    assert client.get("/api/v1/imports/999999/rejections", headers=gcs_admin).status_code == 404
