"""Request bodies are validated at the edge: bad input is a 400 (or 415), never a 500."""

import pytest
from servicekit import db
from servicekit.testing import emitted

NOTES = "/api/v1/notes"


def assert_bad_request(response, status=400):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "details"}
    return body


def test_it_accepts_a_valid_body(client, gp):
    response = client.post(NOTES, json={"text": "Compte rendu RCP", "urgent": True}, headers=gp)
    assert response.status_code == 201


def test_it_rejects_an_unknown_field(client, gp):
    body = assert_bad_request(client.post(NOTES, json={"text": "x", "admin": True}, headers=gp))
    assert "admin" in body["details"]["fields"]


@pytest.mark.parametrize(
    "payload", [{"text": 12}, {"text": "x", "urgent": "perhaps"}, {}], ids=["int", "bool", "none"]
)
def test_it_rejects_a_field_of_the_wrong_type_or_a_missing_one(client, gp, payload):
    body = assert_bad_request(client.post(NOTES, json=payload, headers=gp))
    assert body["details"]["fields"]


def test_it_rejects_control_characters(client, gp):
    body = assert_bad_request(client.post(NOTES, json={"text": "a\x00b\x1b[31m"}, headers=gp))
    assert "text" in body["details"]["fields"]


def test_it_rejects_malformed_json(client, gp):
    response = client.post(NOTES, data='{"text": "x"', content_type="application/json", headers=gp)
    assert_bad_request(response)


def test_it_rejects_json_that_is_not_an_object(client, gp):
    assert_bad_request(client.post(NOTES, json=["text", "x"], headers=gp))


def test_it_rejects_a_body_that_is_not_json(client, gp):
    response = client.post(NOTES, data="text=x", headers=gp)
    assert_bad_request(response, 415)


def test_it_writes_nothing_for_a_rejected_body(app, client, gp):
    client.post(NOTES, json={"text": "x", "unknown": 1}, headers=gp)
    with db.sessions(app) as session:
        assert emitted(session) == []
