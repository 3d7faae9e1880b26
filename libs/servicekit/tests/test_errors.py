"""One JSON error shape for every failure; a 500 rolls the request's writes back."""

import kitapp
import sqlalchemy as sa
from kitapp.models import Note
from servicekit import db
from servicekit.testing import emitted


def assert_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error", "details"}
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_it_answers_an_unknown_path_with_a_json_404(client):
    assert_error(client.get("/api/v1/nothing-here"), 404)


def test_it_answers_a_wrong_method_with_a_json_405_and_the_allowed_ones(client):
    response = client.delete("/api/v1/whoami")
    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_it_answers_a_body_too_large_with_a_json_413(settings, database, gp):
    app = kitapp.create_app({**settings, "MAX_CONTENT_LENGTH": 64})
    response = app.test_client().post("/api/v1/notes", json={"text": "x" * 200}, headers=gp)
    assert_error(response, 413)


def test_it_rolls_back_and_answers_json_when_a_view_fails(app, client, gp):
    body = assert_error(client.post("/api/v1/notes/broken", headers=gp), 500)
    assert "a bug after the write" not in body["error"]
    with db.sessions(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Note)) == 0
        assert emitted(session) == []
