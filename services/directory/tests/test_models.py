"""The migrations build exactly the models' tables and carry stored rows forward; search keys
fold names the way users type."""

import uuid

import pytest
import sqlalchemy as sa
from directory.models import Base, PractitionerRole, search_key
from servicekit import db
from servicekit.migrations import differences, is_current, upgrade


def test_it_migrates_to_exactly_the_tables_the_models_declare(app):
    assert is_current(app)
    assert differences(app, Base.metadata) == []


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Lefèvre", "lefevre"),
        ("Jean-François", "jean francois"),
        ("D'ARTAGNAN", "d artagnan"),
        ("  Œillet   Gaëlle ", "oeillet gaelle"),
        ("Müller-Lüdenscheidt", "muller ludenscheidt"),
        ("", ""),
        (None, ""),
        ("LE  GALL_O'Neil.Jr/ 2", "le gall o neil jr 2"),  # ASCII: no decomposition to do
        ("ﬁlippi ²", "filippi 2"),  # compatibility forms spelled out
    ],
)
def test_it_folds_case_accents_hyphens_and_apostrophes_in_search_keys(name, key):
    assert search_key(name) == key


def test_the_role_name_keys_migration_copies_each_practitioners_keys(
    app_factory, settings, tmp_path
):
    """Roles stored before their name keys existed get their practitioner's."""
    older = app_factory(settings | {"DATABASE_URL": f"sqlite:///{tmp_path / 'older.db'}"})
    upgrade(older, "0008_search_covering_indexes")
    person, role = uuid.uuid4(), uuid.uuid4()
    stamp = "2026-11-01 00:00:00.000000"
    with db.database(older).engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO practitioners (id, national_id, id_type, civilite,"
                " civilite_exercice, family, given, family_search, given_search, professions,"
                " active, fingerprint, created_at, updated_at) VALUES (:id, '810001234567', '8',"
                " '', '', 'Lefèvre', 'Anaïs', 'lefevre', 'anais', '10', 1, 'f', :at, :at)"
            ),
            {"id": person.hex, "at": stamp},
        )
        connection.execute(
            sa.text(
                "INSERT INTO practitioner_roles (id, practitioner_id, profession_code,"
                " profession, category_code, savoir_faire_type, savoir_faire_code,"
                " savoir_faire_system, savoir_faire, mode_code, role_code, genre_code, active,"
                " fingerprint, created_at, updated_at) VALUES (:id, :person, '10', '', '', '',"
                " 'SM54', '', '', '', '', '', 1, 'r', :at, :at)"
            ),
            {"id": role.hex, "person": person.hex, "at": stamp},
        )

    upgrade(older)

    with db.database(older).session_factory() as session:
        stored = session.get(PractitionerRole, role)
        assert (stored.family_search, stored.given_search) == ("lefevre", "anais")


def test_on_postgresql_staging_is_unlogged_and_keys_compare_byte_by_byte(app, db_session):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite compares text byte by byte and has no unlogged tables")
    persistence = db_session.scalar(
        sa.text("SELECT relpersistence FROM pg_class WHERE relname = 'import_staging'")
    )
    collations = db_session.execute(
        sa.text(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns"
            " WHERE collation_name = 'C' AND table_schema = current_schema()"
            " AND column_name IN ('national_id', 'key', 'address', 'entity', 'event_id')"
        )
    ).all()
    assert persistence == "u"
    assert {(table, column) for table, column, _ in collations} == {
        ("practitioners", "national_id"),
        ("organizations", "key"),
        ("mailboxes", "address"),
        ("import_staging", "entity"),
        ("import_staging", "key"),
        ("outbox", "event_id"),  # servicekit's (decision 63)
    }
