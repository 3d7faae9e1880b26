"""Stage what an import reads: one row per entity key, with its fingerprint and its record.

Staging is an upsert keyed by (run, entity, key), so memory stays constant whatever the file
size. A professional whose lines are not contiguous arrives as partial records: the later one is
merged into the staged one (Professional.merged_with), as the extract layer prescribes.
"""

from functools import lru_cache
from operator import attrgetter, itemgetter

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from directory.extract.records import Activity, Mailbox, Organisation, Professional
from directory.models import ImportStaging

PRACTITIONER = "practitioner"
ORGANIZATION = "organization"
MAILBOX = "mailbox"

# Bind parameters per statement stay under SQLite's limit (32766) and keep PostgreSQL plans small.
SELECT_CHUNK = 500


def encode_professional(person: Professional) -> list:
    """The staged form of a professional: identity fields, then its activities' values.

    Each activity keeps its fingerprint as its last value, so that reading it back does not
    hash it again.
    """
    activities = [[*_values(activity), activity.fingerprint] for activity in person.activities]
    return [
        person.id_type,
        person.identifier,
        person.civilite_code,
        person.civilite_exercice_code,
        person.family_name,
        person.given_name,
        activities,
    ]


def decode_professional(national_id: str, data: list, print_: str = "") -> Professional:
    """The professional a staged row holds (organisations are staged on their own)."""
    *identity, activities = data
    acts = tuple(_activity(values) for values in activities)
    professions = tuple(sorted({a.profession_code for a in acts if a.profession_code}))
    return Professional(national_id, *identity, professions, acts, (), fingerprint=print_)


def decode_organisation(key: str, data: list, print_: str) -> Organisation:
    """The organisation a staged row holds."""
    return Organisation(*data, fingerprint=print_)


def decode_mailbox(key: str, data: list, print_: str) -> Mailbox:
    """The mailbox a staged row holds."""
    return Mailbox(*data, fingerprint=print_)


def _values(record) -> list[str]:
    return list(_content_of(type(record))(record))


@lru_cache(maxsize=8)
def _content_of(kind: type):
    """A getter of a record type's fields but its fingerprint, in declaration order."""
    return attrgetter(*(name for name in kind.__slots__ if name != "fingerprint"))


def _activity(values: list[str]) -> Activity:
    return Activity(*values)


def stage_professionals(session, run_id: int, people: list[Professional]) -> None:
    """Stage a batch of professionals, merging partial records of one national id."""
    merged: dict[str, Professional] = {}
    for person in people:
        seen = merged.get(person.national_id)
        merged[person.national_id] = seen.merged_with(person) if seen else person
    for national_id, staged in _staged(session, run_id, PRACTITIONER, list(merged)):
        merged[national_id] = decode_professional(national_id, staged).merged_with(
            merged[national_id]
        )
    rows = [
        _row(run_id, PRACTITIONER, key, person.fingerprint, encode_professional(person))
        for key, person in merged.items()
    ]
    upsert(session, rows)


def stage_organisations(session, run_id: int, organisations: list[Organisation]) -> None:
    """Stage a batch of organisations (a key seen twice keeps its last content)."""
    latest = {org.key: org for org in organisations}
    rows = [
        _row(run_id, ORGANIZATION, key, org.fingerprint, _values(org))
        for key, org in latest.items()
    ]
    upsert(session, rows)


def stage_mailboxes(session, run_id: int, boxes: list[Mailbox]) -> None:
    """Stage a batch of mailboxes (an address listed twice keeps its last line)."""
    latest = {box.address: box for box in boxes}
    rows = [
        _row(run_id, MAILBOX, key, box.fingerprint, _values(box)) for key, box in latest.items()
    ]
    upsert(session, rows)


def _row(run_id, entity, key, print_, data) -> dict:
    return {"run_id": run_id, "entity": entity, "key": key, "fingerprint": print_, "data": data}


def _staged(session, run_id: int, entity: str, keys: list[str]):
    table = ImportStaging.__table__
    for start in range(0, len(keys), SELECT_CHUNK):
        query = sa.select(table.c.key, table.c.data).where(
            table.c.run_id == run_id,
            table.c.entity == entity,
            table.c.key.in_(keys[start : start + SELECT_CHUNK]),
        )
        yield from session.execute(query)


def upsert(session, rows: list[dict]) -> None:
    """INSERT ... ON CONFLICT (run, entity, key) DO UPDATE, as one executemany.

    Run at the driver with the JSON column's own conversion: through SQLAlchemy Core the same
    statement rebuilds every row's parameters, which costs more than the insert itself.
    """
    if not rows:
        return
    connection = session.connection()
    sql, order, to_json = _upsert_statement(connection.dialect)
    if order is None:  # named parameters (psycopg)
        parameters = [{**row, "data": to_json(row["data"])} for row in rows]
    else:
        values = itemgetter(*order)
        at = order.index("data")
        parameters = [_with(values(row), at, to_json(row["data"])) for row in rows]
    connection.exec_driver_sql(sql, parameters)


def _with(values: tuple, index: int, value) -> tuple:
    return (*values[:index], value, *values[index + 1 :])


@lru_cache(maxsize=4)
def _upsert_statement(dialect):
    """(sql, positional parameter order or None, data converter) of the staging upsert."""
    table = ImportStaging.__table__
    module = postgresql if dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["run_id", "entity", "key"],
        set_={"fingerprint": statement.excluded.fingerprint, "data": statement.excluded.data},
    )
    compiled = statement.compile(dialect=dialect, column_keys=list(_STAGED_COLUMNS))
    order = tuple(compiled.positiontup) if compiled.positional else None
    to_json = table.c.data.type.dialect_impl(dialect).bind_processor(dialect) or _unchanged
    return compiled.string, order, to_json


_STAGED_COLUMNS = ("run_id", "entity", "key", "fingerprint", "data")


def _unchanged(value):
    return value


def clear(session, run_id: int) -> None:
    """Drop a run's staged rows."""
    session.execute(sa.delete(ImportStaging).where(ImportStaging.run_id == run_id))
