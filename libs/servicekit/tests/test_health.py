"""/healthz says the process answers; /readyz checks the database and its migrations."""

import kitapp
import pytest
import sqlalchemy as sa
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


def test_it_stays_ready_when_a_newer_release_migrated_the_database(settings, database):
    # A rolling upgrade: the new release's migration ran, this release's pods keep serving.
    with database.scratch() as url:
        app = kitapp.create_app({**settings, "DATABASE_URL": url})
        migrations.upgrade(app)
        versions = sa.table(migrations.version_table(app), sa.column("version_num"))
        with db.database(app).engine.begin() as connection:
            connection.execute(sa.update(versions).values(version_num="0099_newer"))
        response = app.test_client().get("/readyz")
        db.database(app).dispose()
    assert response.status_code == 200
    assert response.get_json()["checks"]["migrations"] == "ahead"


@pytest.mark.parametrize(("migrate_at_start", "state"), [(True, "current"), (False, "pending")])
def test_the_worker_migrates_at_start_unless_a_job_does_it(
    settings, database, migrate_at_start, state
):
    from servicekit.events.worker import prepare

    with database.scratch() as url:
        app = kitapp.create_app(
            {**settings, "DATABASE_URL": url, "MIGRATE_AT_START": migrate_at_start}
        )
        migrations.upgrade(app, "0001_kit")
        prepare(app)
        assert migrations.schema_state(app) == state
        db.database(app).dispose()


def test_it_is_not_ready_when_the_database_cannot_be_reached(settings, tmp_path):
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'kitapp.db'}"
    app = kitapp.create_app({**settings, "DATABASE_URL": unreachable})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "not ready", "checks": {"database": "unreachable"}}
