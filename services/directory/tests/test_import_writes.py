"""The import's bulk writes: rows written at the driver read back as SQLAlchemy wrote them, and
its SQL expressions compute what their Python twins do."""

import datetime as dt
import json
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from directory.extract import rows
from directory.extract.formats import PERSONNE_ACTIVITE_COLUMNS
from directory.imports import apply, entities, staging
from directory.imports.apply import insert_rows, update_rows
from directory.models import (
    ImportRejection,
    ImportRun,
    ImportStaging,
    Practitioner,
    PractitionerRole,
)
from servicekit import bulk, db
from servicekit.events import emit, emit_many
from servicekit.ids import uuid7
from servicekit.testing import emitted

WHEN = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
LATER = WHEN + dt.timedelta(days=2)


def practitioner(number: int, **changes) -> dict:
    """Every column of a practitioners row, as the import builds it."""
    national_id = f"8{number:011d}"
    return {
        "id": uuid.uuid4(),
        "national_id": national_id,
        "id_type": "8",
        "rpps": national_id[1:],
        "adeli": None,
        "civilite": "DR",
        "civilite_exercice": "",
        "family": "Lefèvre-Nouvel",
        "given": "Zoé",
        "family_search": "lefevre nouvel",
        "given_search": "zoe",
        "professions": "10",
        "fingerprint": f"{number:032x}",
        "active": True,
        "deactivated_at": None,
        "created_at": WHEN,
        "updated_at": WHEN,
    } | changes


def stored(session) -> dict:
    rows = session.execute(sa.select(Practitioner.__table__)).mappings()
    return {row["id"]: dict(row) for row in rows}


def test_inserted_rows_read_back_with_their_types(app):
    rows = [practitioner(1), practitioner(2, active=False, deactivated_at=LATER)]
    with app.app_context(), db.sessions() as session:
        insert_rows(session, Practitioner, rows)
        session.commit()
        assert stored(session) == {row["id"]: row for row in rows}


def test_many_inserted_rows_read_back_with_their_types_and_awkward_text(app):
    # Enough rows for PostgreSQL's COPY path: text that its format escapes must come back as is.
    awkward = ("tab\there", "back\\slash \\N", "\\.", "", "guillemets « » ' \"", "Œdipe-Ñuñez")
    rows = [
        practitioner(
            number, family=awkward[number % len(awkward)], adeli=None if number % 2 else ""
        )
        for number in range(1, bulk.COPY_MIN_ROWS * 3)
    ]
    rows[5] |= {"active": False, "deactivated_at": LATER}
    with app.app_context(), db.sessions() as session:
        insert_rows(session, Practitioner, rows)
        session.commit()
        assert stored(session) == {row["id"]: row for row in rows}


def test_rows_inserted_under_new_ids_read_back_under_them_as_uuids(app):
    # Enough rows for PostgreSQL's COPY; on SQLite the ids are drawn as the text it stores.
    columns = tuple(practitioner(0))
    with app.app_context(), db.sessions() as session:
        new = bulk.new_ids(session, bulk.COPY_MIN_ROWS * 2)
        rows = [practitioner(number, id=id_) for number, id_ in enumerate(new, 1)]
        values = [tuple(row.values()) for row in rows]
        bulk.insert_values(session, Practitioner.__table__, columns, values)
        session.commit()
        read = stored(session)
    assert list(read) == sorted(read) == [uuid.UUID(str(id_)) for id_ in new]
    assert [row["national_id"] for row in read.values()] == [row["national_id"] for row in rows]


def test_a_uuid_given_as_other_text_is_never_stored_as_it_is(app):
    # SQLite keeps whatever text it is given: only new_ids's 32 hex digits go in as they are,
    # other text goes through the UUID type, which refuses it. PostgreSQL parses it itself.
    dashed = str(uuid7())
    with app.app_context(), db.sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            with pytest.raises(AttributeError, match="hex"):
                insert_rows(session, Practitioner, [practitioner(1, id=dashed)])
        else:
            insert_rows(session, Practitioner, [practitioner(1, id=dashed)])
            assert list(stored(session)) == [uuid.UUID(dashed)]


@pytest.mark.parametrize("other", ["", "0" * 31, "0" * 33, 7])
def test_new_ids_text_among_many_is_taken_but_no_other_value(app, other):
    # Many rows go through a check of the whole column: one odd value sends it through the
    # UUID type, which refuses it (SQLite).
    with app.app_context(), db.sessions() as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL checks the values itself")
        ids = [*bulk.new_ids(session, 50), other, *bulk.new_ids(session, 50)]
        rows = [practitioner(number, id=id_) for number, id_ in enumerate(ids, 1)]
        with pytest.raises((AttributeError, TypeError)):
            insert_rows(session, Practitioner, rows)


def test_copy_goes_binary_only_for_the_types_it_writes_as_given():
    from servicekit.models import BigIntId, OutboxEvent, UTCDateTime
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.psycopg.dialect()
    table = sa.Table(
        "kinds",
        sa.MetaData(),
        sa.Column("id", BigIntId),
        sa.Column("ref", sa.Uuid),
        sa.Column("name", sa.String(10).with_variant(sa.String(10, collation="C"), "postgresql")),
        sa.Column("flag", sa.Boolean),
        sa.Column("at", UTCDateTime),
        sa.Column("grown", sa.Integer().with_variant(sa.BigInteger(), "postgresql")),
        sa.Column("uuid_text", sa.Uuid(as_uuid=False)),
        sa.Column("naive", sa.DateTime),
        sa.Column("kind", sa.Enum("a", "b", name="kind")),
    )
    simple = ("id", "ref", "name", "flag", "at", "grown")

    assert bulk.binary_types(dialect, table, simple) == (
        "int8", "uuid", "text", "bool", "timestamptz", "int8"
    )  # fmt: skip
    for other in ("uuid_text", "naive", "kind"):
        assert bulk.binary_types(dialect, table, (*simple, other)) is None
    events = OutboxEvent.__table__
    assert bulk.binary_types(dialect, events, tuple(events.c.keys())) is None  # JSON data


@pytest.mark.parametrize("per_statement", [1, 4, 10_000])
def test_rows_read_by_many_keys_are_those_stored_under_them(app, monkeypatch, per_statement):
    # Keys split over several statements, one of them stored under no row.
    monkeypatch.setattr(bulk, "LISTED_KEYS", per_statement)
    monkeypatch.setattr(bulk, "ARRAY_KEYS", per_statement)
    rows = [practitioner(number, active=number % 3 != 0) for number in range(1, 12)]
    wanted = [row["national_id"] for row in rows[::2]] + ["800000000000"]
    query = bulk.among(
        sa.select(Practitioner.national_id, Practitioner.id).where(
            Practitioner.active == sa.bindparam("active")
        ),
        Practitioner.national_id,
    )
    with app.app_context(), db.sessions() as session:
        insert_rows(session, Practitioner, rows)
        found = list(bulk.rows_among(session, query, wanted, active=True))
        none = list(bulk.rows_among(session, query, [], active=True))

    expected = [(row["national_id"], row["id"]) for row in rows[::2] if row["active"]]
    assert sorted(map(tuple, found)) == sorted(expected)
    assert none == []


def test_many_events_queued_at_once_read_back_as_given(app):
    data = [
        {"n": n, "text": 'Zoé "dite" \\ \t', "none": None, "ok": n % 2 == 0} for n in range(200)
    ]
    with app.app_context(), db.sessions() as session:
        events = ((str(n), item) for n, item in enumerate(data))
        queued = emit_many(session, "fr.enrs.directory.practitioner.updated", events)
        session.commit()
        events = emitted(session)
    assert queued == len(events) == len(data)
    assert [event.data for event in events] == data
    assert [event.subject for event in events] == [str(n) for n in range(len(data))]


def test_updated_rows_change_only_the_rows_named_by_id(app):
    first, second = practitioner(1), practitioner(2)
    with app.app_context(), db.sessions() as session:
        insert_rows(session, Practitioner, [first, second])
        changed = {"id": first["id"], "family": "Roux", "active": False, "updated_at": LATER}
        update_rows(session, Practitioner, [changed])
        session.commit()
        assert stored(session) == {first["id"]: first | changed, second["id"]: second}


def test_rows_without_a_defaulted_column_get_its_default(app):
    row = practitioner(3)
    del row["created_at"], row["civilite"]
    with app.app_context(), db.sessions() as session:
        insert_rows(session, Practitioner, [row])
        session.commit()
        [back] = stored(session).values()
    assert back["civilite"] == ""
    assert back["created_at"].tzinfo is not None


@pytest.mark.parametrize(
    "structure_id", ["1350000014", "335000001400012", "4R10000000123", "2123", "1", "", "9x"]
)
def test_the_sql_structure_key_is_the_python_one(db_session, structure_id):
    sql = entities.structure_key_in_sql(sa.literal(structure_id, sa.String))
    assert db_session.scalar(sa.select(sql)) == entities.structure_key(structure_id)


def test_created_events_built_by_the_database_are_the_ones_emit_would_queue(app):
    people = [practitioner(number, id=uuid7()) for number in range(1, 6)]
    people[2] |= {"rpps": None, "adeli": "123456789", "id_type": "0", "given": 'Zoé "dite" \\'}
    counts = Counter()
    with app.app_context(), db.sessions() as session:
        insert_rows(session, Practitioner, people)
        apply._announce_created(session, apply.PRACTITIONERS, people, counts)
        emit(session, "fr.enrs.directory.practitioner.created", "x", {})
        session.commit()
        queued = emitted(session)

    *built, by_emit = queued
    assert counts["practitioner.created"] == len(people)
    assert [event.data for event in built] == [
        json.loads(json.dumps(apply.PRACTITIONERS.event(row))) for row in people
    ]
    assert [event.subject for event in built] == [str(row["id"]) for row in people]
    assert [event.key for event in built] == [str(row["id"]) for row in people]
    assert [event.event_id for event in built] == [str(row["id"]) for row in people]
    shared = ("topic", "type", "source", "request_id", "attempts", "published_at")
    for event in built:
        assert [getattr(event, name) for name in shared] == [
            getattr(by_emit, name) for name in shared
        ]
        assert dt.timedelta(0) <= by_emit.created_at - event.created_at < dt.timedelta(seconds=5)


def test_many_reported_lines_read_back_with_their_numbers_and_empty_columns(app):
    # Integers and NULLs through PostgreSQL's COPY (binary: every column's type allows it).
    with app.app_context(), db.sessions() as session:
        run = ImportRun(kind="ps", file_name="extrait.txt")
        session.add(run)
        session.flush()
        rows = [
            {
                "line": 2**31 - 1 - number,
                "column": None if number % 3 else "Identifiant PP",
                "reason": f"RPPS mal formé : 11 chiffres attendus ({number})",
                "severity": "error" if number % 2 else "warning",
                "run_id": run.id,
            }
            for number in range(bulk.COPY_MIN_ROWS * 2)
        ]
        insert_rows(session, ImportRejection, rows)
        session.commit()
        stored = session.execute(
            sa.select(ImportRejection.line, ImportRejection.column, ImportRejection.reason,
                      ImportRejection.severity, ImportRejection.run_id)
        ).all()  # fmt: skip

    assert sorted(map(tuple, stored)) == sorted(tuple(row.values()) for row in rows)


def test_staged_rows_upserted_in_bulk_replace_the_ones_staged_before(app):
    # Enough rows for PostgreSQL's path (a COPY, then one upsert), twice in one transaction.
    keys = [f"8{number:011d}" for number in range(bulk.COPY_MIN_ROWS * 2)]
    with app.app_context(), db.sessions() as session:
        run = ImportRun(kind="ps", file_name="extrait.txt")
        session.add(run)
        session.flush()
        first = [(run.id, "practitioner", key, "a" * 32, "Dupont|Zoé\\t|", False) for key in keys]
        staging.upsert(session, first)
        again = [(run.id, "practitioner", key, "b" * 32, "Roux\tN°2", True) for key in keys[::2]]
        more = [(run.id, "organization", key, "c" * 32, "", False) for key in keys[:70]]
        staging.upsert(session, [*again, (run.id, "practitioner", "8x", "d" * 32, "", False)])
        staging.upsert(session, more)
        session.commit()
        staged = session.execute(sa.select(ImportStaging.__table__)).all()

    expected = {row[:3]: row for row in first} | {row[:3]: row for row in again + more}
    expected[(run.id, "practitioner", "8x")] = (run.id, "practitioner", "8x", "d" * 32, "", False)
    assert {tuple(row[:3]): tuple(row) for row in staged} == expected


def role_of(practitioner_id, number: int) -> dict:
    """Every column of a practitioner_roles row, as a first import builds it."""
    activity = ("10", "Médecin", "C", "S", "SM54", "Médecine générale", "L", "", "", "", "", "")
    values = entities.role_values((*activity, f"{number:032x}"), practitioner_id, "a", "b", None)
    row = dict(zip(entities.ROLE_COLUMNS, values, strict=True))
    return {"id": uuid7(), **row, "created_at": WHEN, "updated_at": WHEN}


@pytest.fixture
def person_stored(app):
    """(session, practitioner row): a session in which one practitioner is stored."""
    person = practitioner(1)
    with app.app_context(), db.sessions() as session:
        insert_rows(session, Practitioner, [person])
        session.commit()
        yield session, person


def roles_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(PractitionerRole))


def test_roles_written_while_their_foreign_keys_wait_are_checked_at_once(person_stored):
    session, person = person_stored
    deferred = db.foreign_keys_checked_after(session, "practitioner_roles")
    if session.get_bind().dialect.name != "sqlite":  # PostgreSQL's: dropped by the import
        with deferred:
            insert_rows(session, PractitionerRole, [role_of(person["id"], 1)])
        return
    with pytest.raises(db.ForeignKeyViolation, match="practitioner_roles"), deferred:
        insert_rows(session, PractitionerRole, [role_of(person["id"], 1)])
        insert_rows(session, PractitionerRole, [role_of(uuid7(), 2)])  # no such practitioner
    assert roles_count(session) == 2

    # Once the block is over, every new transaction enforces them again.
    with pytest.raises(sa.exc.IntegrityError):
        insert_rows(session, PractitionerRole, [role_of(uuid7(), 3)])
    session.rollback()


def test_a_block_that_fails_while_foreign_keys_wait_writes_nothing(person_stored):
    session, person = person_stored
    with pytest.raises(RuntimeError), db.foreign_keys_checked_after(session, "practitioner_roles"):
        insert_rows(session, PractitionerRole, [role_of(person["id"], 1)])
        raise RuntimeError("stopped")
    session.rollback()  # what PostgreSQL's caller does; on SQLite, the block did
    assert roles_count(session) == 0


def activity_line(national_id: str, **named: str) -> list[str]:
    """The values of one personne-activité line, with the given columns set."""
    fields = dict.fromkeys(PERSONNE_ACTIVITE_COLUMNS, "")
    fields.update(
        {
            "Type d'identifiant PP": national_id[0],
            "Identifiant PP": national_id[1:],
            "Identification nationale PP": national_id,
            "Nom d'exercice": "Lefèvre-Nouvel",
            "Prénom d'exercice": "Zoé",
            "Code profession": "10",
        }
    )
    fields.update(named)
    return [fields[column] for column in PERSONNE_ACTIVITE_COLUMNS]


def test_new_rows_built_a_column_at_a_time_are_the_ones_built_row_by_row():
    # A first import builds its rows from the staged values a column at a time
    # (entities.new_practitioner_rows); the staged path builds them record by record.
    pharmacist = {"Code profession": "21", "Code savoir-faire": "SM54"}
    finess = {"Numéro FINESS site": "750000010", "Raison sociale site": "Clinique"}
    professionals = [
        [activity_line("810001045367")],
        [activity_line("810001045368", **{"Code profession": ""})],
        [
            activity_line("810001045369", **pharmacist),
            activity_line("810001045369", **{"Code profession": ""}),
            activity_line("810001045369", **finess),
            activity_line("810001045369", **pharmacist),
        ],
        [activity_line("0751234567", **{"Nom d'exercice": "Ødegård", **finess})],
    ]
    staged = [rows.professional_row_from(lines)[0] for lines in professionals]
    ids = [uuid7() for _ in staged]
    place = {"finess:750000010": uuid7()}

    people, activities = entities.new_practitioner_rows(ids, staged, WHEN)
    role_ids = [uuid7() for _ in range(len(activities))]
    roles = entities.new_role_rows(role_ids, activities, place, WHEN)

    expected_people, expected_roles = [], []
    for id_, (key, print_, data) in zip(ids, staged, strict=True):
        identity, acts = rows.split_professional(data)
        person = entities.practitioner_values(key, print_, *identity, rows.profession_codes(acts))
        expected_people.append((id_, *person, WHEN, WHEN))
        family, given = person[8], person[9]
        for values in acts:
            organization = place.get(values[-2])
            role = entities.role_values(values, id_, family, given, organization)
            expected_roles.append((role_ids[len(expected_roles)], *role, WHEN, WHEN))
    assert people == expected_people
    assert roles == expected_roles
    assert [person[11] for person in people] == ["10", "", "10 21", "10"]
    assert len(roles) == 6  # the pharmacist's activity listed twice is one
