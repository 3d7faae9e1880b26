"""Signed-cookie sessions: the same cookies as Flask's, one signer while the keys stay."""

import pytest
from flask import session
from servicekit.sessions import CookieSessions


@pytest.fixture
def session_app(app_factory, settings):
    app = app_factory(settings)

    @app.post("/remember/<word>")
    def remember(word):
        session["word"] = word
        return {}

    @app.get("/recall")
    def recall():
        return {"word": session.get("word")}

    return app


def test_a_session_cookie_carries_what_the_request_put_in_it(session_app):
    assert isinstance(session_app.session_interface, CookieSessions)
    client = session_app.test_client()
    client.post("/remember/lefevre")
    assert client.get("/recall").get_json() == {"word": "lefevre"}


def test_the_signer_is_built_once_for_the_same_keys(session_app):
    interface = session_app.session_interface
    assert interface.get_signing_serializer(session_app) is interface.get_signing_serializer(
        session_app
    )


def test_a_new_secret_key_refuses_old_cookies_unless_it_names_the_old_key_as_fallback(
    session_app,
):
    client = session_app.test_client()
    client.post("/remember/lefevre")
    session_app.secret_key = "another-secret"
    assert client.get("/recall").get_json() == {"word": None}
    session_app.config["SECRET_KEY_FALLBACKS"] = ["test-secret"]
    assert client.get("/recall").get_json() == {"word": "lefevre"}


def test_a_forged_cookie_is_not_read(session_app):
    client = session_app.test_client()
    client.post("/remember/lefevre")
    cookie = client.get_cookie("session")
    client.set_cookie("session", cookie.value[:-2] + ("AA" if cookie.value[-2:] != "AA" else "BB"))
    assert client.get("/recall").get_json() == {"word": None}
