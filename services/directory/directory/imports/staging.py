"""Stage what an import reads: one row per entity key, with its fingerprint and its record.

Staging is an upsert keyed by (run, entity, key), so memory stays constant whatever the file
size. A professional whose lines are not contiguous arrives as partial records: the later one is
merged into the staged one (Professional.merged_with), as the extract layer prescribes.
"""

import json
from functools import lru_cache
from operator import attrgetter

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from directory import models
from directory.extract.records import Activity, Mailbox, Organisation, Professional
from directory.models import ImportStaging

PRACTITIONER = "practitioner"
ORGANIZATION = "organization"
MAILBOX = "mailbox"

# Where each entity is stored, and its key there.
STORED = {
    PRACTITIONER: models.Practitioner,
    ORGANIZATION: models.Organization,
    MAILBOX: models.Mailbox,
}
KEYS = {PRACTITIONER: "national_id", ORGANIZATION: "key", MAILBOX: "address"}

# What stages one record: its key, its fingerprint and its content as JSON text.
StagedRow = tuple[str, str, str]

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


def professional_row(person: Professional) -> StagedRow:
    """What stages a professional: (national id, fingerprint, data)."""
    return person.national_id, person.fingerprint, _dumps(encode_professional(person))


def organisation_row(org: Organisation) -> StagedRow:
    """What stages an organisation: (key, fingerprint, data)."""
    return org.key, org.fingerprint, _dumps(_values(org))


def mailbox_row(box: Mailbox) -> StagedRow:
    """What stages a mailbox: (address, fingerprint, data)."""
    return box.address, box.fingerprint, _dumps(_values(box))


def decode_professional(national_id: str, data: str, print_: str = "") -> Professional:
    """The professional a staged row holds (organisations are staged on their own)."""
    *identity, activities = json.loads(data)
    acts = tuple(_activity(values) for values in activities)
    professions = tuple(sorted({a.profession_code for a in acts if a.profession_code}))
    return Professional(national_id, *identity, professions, acts, (), fingerprint=print_)


def decode_organisation(key: str, data: str, print_: str) -> Organisation:
    """The organisation a staged row holds."""
    return Organisation(*json.loads(data), fingerprint=print_)


def decode_mailbox(key: str, data: str, print_: str) -> Mailbox:
    """The mailbox a staged row holds."""
    return Mailbox(*json.loads(data), fingerprint=print_)


# Compact: staged data is only read back by json.loads.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _values(record) -> list[str]:
    return list(_content_of(type(record))(record))


@lru_cache(maxsize=8)
def _content_of(kind: type):
    """A getter of a record type's fields but its fingerprint, in declaration order."""
    return attrgetter(*(name for name in kind.__slots__ if name != "fingerprint"))


def _activity(values: list[str]) -> Activity:
    return Activity(*values)


def stage_professionals(session, run_id: int, rows: list[StagedRow]) -> None:
    """Stage a batch of professionals, merging partial records of one national id."""
    merged: dict[str, StagedRow] = {}
    for row in rows:
        seen = merged.get(row[0])
        merged[row[0]] = _merged(seen, row) if seen else row
    for national_id, data in _staged(session, run_id, PRACTITIONER, list(merged)):
        merged[national_id] = _merged((national_id, "", data), merged[national_id])
    _upsert_marked(session, run_id, PRACTITIONER, list(merged.values()))


def _merged(first: StagedRow, second: StagedRow) -> StagedRow:
    # Lines of one professional that were not contiguous: what one run of them would give.
    person = decode_professional(first[0], first[2])
    return professional_row(person.merged_with(decode_professional(second[0], second[2])))


def stage_organisations(session, run_id: int, rows: list[StagedRow]) -> None:
    """Stage a batch of organisations (a key seen twice keeps its last content)."""
    latest = {row[0]: row for row in rows}
    _upsert_marked(session, run_id, ORGANIZATION, list(latest.values()))


def stage_mailboxes(session, run_id: int, rows: list[StagedRow]) -> None:
    """Stage a batch of mailboxes (an address listed twice keeps its last line)."""
    latest = {row[0]: row for row in rows}
    _upsert_marked(session, run_id, MAILBOX, list(latest.values()))


def _upsert_marked(session, run_id: int, entity: str, rows: list[StagedRow]) -> None:
    """Upsert rows, each marked unchanged when stored active with the same fingerprint.

    Comparing here, while child processes read the next lines, spares the diff a join per key;
    a merged record is compared again as a whole.
    """
    same = _unchanged_keys(session, entity, rows)
    upsert(session, [(run_id, entity, *row, row[0] in same) for row in rows])


def _unchanged_keys(session, entity: str, rows: list[StagedRow]) -> set[str]:
    model = STORED[entity]
    key = getattr(model, KEYS[entity])
    if not rows or session.execute(sa.select(model.id).limit(1)).first() is None:
        return set()  # a first import: nothing to compare with
    prints = {row[0]: row[1] for row in rows}
    keys = list(prints)
    same = set()
    for start in range(0, len(keys), SELECT_CHUNK):
        # `active` is tested here, not in SQL: there SQLite would rather walk the index on active.
        query = sa.select(key, model.fingerprint, model.active)
        query = query.where(key.in_(keys[start : start + SELECT_CHUNK]))
        same.update(
            stored
            for stored, print_, active in session.execute(query)
            if active and prints[stored] == print_
        )
    return same


def _staged(session, run_id: int, entity: str, keys: list[str]):
    table = ImportStaging.__table__
    for start in range(0, len(keys), SELECT_CHUNK):
        query = sa.select(table.c.key, table.c.data).where(
            table.c.run_id == run_id,
            table.c.entity == entity,
            table.c.key.in_(keys[start : start + SELECT_CHUNK]),
        )
        yield from session.execute(query)


def upsert(session, rows: list[tuple]) -> None:
    """INSERT ... ON CONFLICT (run, entity, key) DO UPDATE, as one executemany.

    Rows are (run_id, entity, key, fingerprint, data, unchanged) and run at the driver: through
    SQLAlchemy Core the same statement rebuilds every row's parameters, which costs more than the
    insert itself.
    """
    if not rows:
        return
    connection = session.connection()
    sql, named = _upsert_statement(connection.dialect)
    parameters = [dict(zip(_STAGED_COLUMNS, row, strict=True)) for row in rows] if named else rows
    connection.exec_driver_sql(sql, parameters)


@lru_cache(maxsize=4)
def _upsert_statement(dialect):
    """(sql, whether it takes named parameters) of the staging upsert."""
    table = ImportStaging.__table__
    module = postgresql if dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["run_id", "entity", "key"],
        set_={name: statement.excluded[name] for name in _STAGED_COLUMNS[3:]},
    )
    compiled = statement.compile(dialect=dialect, column_keys=list(_STAGED_COLUMNS))
    if compiled.positional and tuple(compiled.positiontup) != _STAGED_COLUMNS:
        raise RuntimeError(f"unexpected staging parameter order: {compiled.positiontup}")
    return compiled.string, not compiled.positional


_STAGED_COLUMNS = ("run_id", "entity", "key", "fingerprint", "data", "unchanged")


def clear(session, run_id: int) -> None:
    """Drop a run's staged rows."""
    session.execute(sa.delete(ImportStaging).where(ImportStaging.run_id == run_id))
