"""/healthz says the process answers; /readyz checks the database and its migrations."""

import kitapp
from servicekit import db, migrations


def test_it_is_alive_without_checking_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_it_is_ready_when_the_database_is_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_it_is_not_ready_while_migrations_are_pending(settings, database):
    with database.scratch() as url:
        app = kitapp.create_app({**settings, "DATABASE_URL": url})
        migrations.upgrade(app, "0001_kit")
        response = app.test_client().get("/readyz")
        db.database(app).dispose()
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "pending"


def test_it_is_not_ready_when_the_database_cannot_be_reached(settings, tmp_path):
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'kitapp.db'}"
    app = kitapp.create_app({**settings, "DATABASE_URL": unreachable})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "not ready", "checks": {"database": "unreachable"}}
