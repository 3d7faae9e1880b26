"""Apply a fully read import: diff the staged rows against the stored ones, in chunks.

Each chunk is one query (staging LEFT JOIN the table on the key, keeping new, changed or
inactive rows), one executemany insert, one executemany update and its events, committed
together. Deactivation is one anti-join per chunk (stored, active, not staged).
"""

import contextlib
import functools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from servicekit import bulk, db
from servicekit.events import ROW_ID, emit_many, emit_per_row
from servicekit.ids import as_uuid, uuid7s
from servicekit.models import utcnow

from directory.extract.rows import (
    decode_mailbox,
    decode_organisation,
    decode_professional,
)
from directory.imports import entities, staging
from directory.models import ImportStaging, Mailbox, Organization, Practitioner, PractitionerRole


@dataclass(frozen=True)
class Entity:
    """One kind of staged record and the table it lands in."""

    name: str
    model: type
    key: str
    decode: Callable
    columns: Callable
    event_fields: tuple[str, ...]  # what its events carry (entities.event_data)

    @property
    def key_column(self):
        return getattr(self.model, self.key)

    def event(self, row: dict) -> dict:
        return entities.event_data(row, self.event_fields)

    def event_type(self, verb: str) -> str:
        return f"fr.enrs.directory.{self.name}.{verb}"


ORGANIZATIONS = Entity(
    staging.ORGANIZATION,
    *staging.STORED[staging.ORGANIZATION],
    decode_organisation,
    entities.organization_columns,
    entities.ORGANIZATION_EVENT,
)
PRACTITIONERS = Entity(
    staging.PRACTITIONER,
    *staging.STORED[staging.PRACTITIONER],
    decode_professional,
    entities.practitioner_columns,
    entities.PRACTITIONER_EVENT,
)
MAILBOXES = Entity(
    staging.MAILBOX,
    *staging.STORED[staging.MAILBOX],
    decode_mailbox,
    entities.mailbox_columns,
    entities.MAILBOX_EVENT,
)


def apply_changes(session, run_id, entity: Entity, chunk, counts: Counter, on_chunk=None) -> None:
    """Insert new and update changed rows of one entity, committing chunk by chunk.

    `on_chunk(counts)` runs before each commit (the run's live counts).
    """
    after = ""
    places: dict = {}  # organisation ids by key, stable: organisations are never deleted
    while True:
        rows = session.execute(_changed(run_id, entity, after, chunk)).all()
        if not rows:
            return
        records = [(entity.decode(row.key, row.data, row.fingerprint), row.id) for row in rows]
        _write(session, entity, records, counts, places)
        _commit(session, counts, on_chunk)
        after = rows[-1].key


def _changed(run_id: int, entity: Entity, after: str, chunk: int):
    model, stage = entity.model, ImportStaging
    return (
        sa.select(stage.key, stage.data, stage.fingerprint, model.id)
        .outerjoin(model, entity.key_column == stage.key)
        .where(stage.run_id == run_id, stage.entity == entity.name, stage.key > after)
        .where(stage.unchanged.is_(False))  # checked before the join: most rows stop here
        .where(
            sa.or_(
                model.id.is_(None),
                model.fingerprint != stage.fingerprint,
                model.active.is_(False),
            )
        )
        .order_by(stage.key)
        .limit(chunk)
    )


def _write(
    session, entity: Entity, records: list, counts: Counter, places: dict, announce=True
) -> None:
    """Insert the records without a stored id, update the others; unless `announce` is false,
    emit an event for each update (creations always have theirs)."""
    now = utcnow()
    created, updated = [], []
    for record, stored_id in records:
        columns = entity.columns(record)  # a new dict per record: completed in place
        columns["updated_at"] = now
        if stored_id is None:
            columns["created_at"] = now
            created.append(columns)
        else:
            columns["id"] = stored_id
            updated.append(columns)
    _number(created)
    if entity is MAILBOXES:
        _link_mailboxes(session, created + updated, places)
    insert_rows(session, entity.model, created)
    update_rows(session, entity.model, updated)
    if entity is PRACTITIONERS:
        _sync_roles(session, records, created, updated, now, places)
    _announce_created(session, entity, created, counts)
    if announce:
        _emit_all(session, entity, "updated", updated, counts)


def _number(rows: list[dict]) -> None:
    """Give new rows their ids, increasing in their order (_announce_created counts on it)."""
    for row, id_ in zip(rows, uuid7s(len(rows)), strict=True):
        row["id"] = id_


@dataclass
class Filling:
    """What a first import keeps from one batch to the next."""

    places: dict = field(default_factory=dict)  # organisation ids by key (_organization_ids)
    written: staging.SeenKeys = field(default_factory=staging.SeenKeys)


def write_into_empty(session, batch, counts: Counter, filling: Filling) -> None:
    """Write one batch read by a first import straight into the directory, without staging.

    What an import into an empty directory would apply is what it reads: each organisation and
    professional is created with its event. A professional met again within the run (its lines
    straddle two parts of the file) is merged into the row written earlier, as staging would
    have merged it before the row was created: no event, the created one already carries the
    same identity. A site sent again changed is rewritten with an updated event: its created
    event, perhaps relayed already, carries its first content, and consumers must end with the
    last one, as staging ends them.
    """
    organisations = {row[0]: row for row in batch.organisations}
    stored = _stored_prints(session, list(organisations))
    records = [
        (decode_organisation(key, data, print_), stored.get(key, (None,))[0])
        for key, print_, data in organisations.values()
        if stored.get(key, (None, None))[1] != print_  # a site sent again unchanged: as it is
    ]
    places = filling.places
    _write(session, ORGANIZATIONS, records, counts, places)
    merged = staging.merged_professionals(batch.rows)
    maybe = filling.written.among(merged)
    stored = _ids_by(session, Practitioner, "national_id", maybe) if maybe else {}
    filling.written.add(merged)
    _create_professionals(
        session, [row for key, row in merged.items() if key not in stored], counts, places
    )
    records = [(_with_stored(session, merged[key], id_), id_) for key, id_ in stored.items()]
    _write(session, PRACTITIONERS, records, counts, places, announce=False)


def _create_professionals(session, rows: list, counts: Counter, places: dict) -> None:
    """Create professionals none of which is stored, from their staged rows, with their events.

    What _write does for records that may be stored already, without building them: the
    practitioners and roles rows are built from the staged values a column at a time
    (entities.new_practitioner_rows), without the records and the dict per row of _write
    (decisions 49 and 58).
    """
    if not rows:
        return
    now = utcnow()
    people, activities = entities.new_practitioner_rows(bulk.new_ids(session, len(rows)), rows, now)
    bulk.insert_values(session, Practitioner.__table__, _CREATED_PEOPLE, people)
    # Announced at once, while the rows just written are in the database's cache.
    _announce_ids(session, PRACTITIONERS, people[0][0], people[-1][0], len(people), counts)
    organizations = _organization_ids(session, set(activities.organisation_keys()), places)
    roles = entities.new_role_rows(
        bulk.new_ids(session, len(activities)), activities, organizations, now
    )
    bulk.insert_values(session, PractitionerRole.__table__, _CREATED_ROLES, roles)


_CREATED_PEOPLE = ("id", *entities.PRACTITIONER_COLUMNS, "created_at", "updated_at")
_CREATED_ROLES = ("id", *entities.ROLE_COLUMNS, "created_at", "updated_at")


def _stored_prints(session, keys: list[str]) -> dict[str, tuple]:
    """{key: (id, fingerprint)} of the stored organisations among keys."""
    query = staging.among(Organization, "key", "id", "fingerprint")
    return {key: (id_, print_) for key, id_, print_ in bulk.rows_among(session, query, keys)}


def _with_stored(session, row, practitioner_id):
    """The staged professional `row` merged into the part of it already stored."""
    person = session.execute(
        sa.select(Practitioner.__table__).where(Practitioner.id == practitioner_id)
    ).one()
    roles = session.execute(
        sa.select(PractitionerRole.__table__, Organization.key)
        .outerjoin(Organization, Organization.id == PractitionerRole.organization_id)
        .where(PractitionerRole.practitioner_id == practitioner_id, PractitionerRole.active)
    ).all()
    activities = tuple(entities.stored_activity(role, role.key or "") for role in roles)
    written = entities.stored_professional(person, activities)
    return written.merged_with(decode_professional(row[0], row[2], row[1]))


def insert_rows(session, model, rows: list[dict]) -> None:
    """One executemany INSERT of rows that all name the same columns."""
    bulk.insert_many(session, model.__table__, rows)


def update_rows(session, model, rows: list[dict]) -> None:
    """One executemany UPDATE by primary key; each row names its `id` and the same columns."""
    bulk.update_many(session, model.__table__, rows)


def _emit_all(session, entity: Entity, verb: str, rows: list[dict], counts: Counter) -> None:
    events = ((str(row["id"]), entity.event(row)) for row in rows)
    emit_many(session, entity.event_type(verb), events)
    counts[f"{entity.name}.{verb}"] += len(rows)


def _announce_created(session, entity: Entity, rows: list[dict], counts: Counter) -> None:
    """The created events of rows just inserted (see _announce_ids)."""
    if rows:
        _announce_ids(session, entity, rows[0]["id"], rows[-1]["id"], len(rows), counts)


def _announce_ids(session, entity: Entity, first, last, count: int, counts: Counter) -> None:
    """The created events of the `count` rows just inserted with ids `first` to `last` (UUIDs,
    or bulk.new_ids's text), one per row in their order, built by the database from the rows
    themselves (servicekit.events.emit_per_row).

    Building hundreds of thousands of event rows in Python, each with its own id and JSON, cost
    a tenth of a first import's CPU. The ids were drawn in order, so the rows lie between the
    first and the last.
    """
    data, between = _created_events(entity)
    bounds = {"first_id": as_uuid(first), "last_id": as_uuid(last)}
    emit_per_row(session, entity.event_type("created"), entity.model.id, data, between, bounds)
    counts[f"{entity.name}.created"] += count


@functools.cache
def _created_events(entity: Entity) -> tuple[dict, sa.ColumnElement]:
    """What the created events of an entity's rows are made of, the same each time (so that
    emit_per_row builds its statement once): their data, and the rows between two ids."""
    model = entity.model
    stored = model.__table__.c
    special = {"id": ROW_ID, "active": sa.true()}  # created: active
    data = {
        name: special[name] if name in special else stored[name] for name in entity.event_fields
    }
    return data, model.id.between(sa.bindparam("first_id"), sa.bindparam("last_id"))


def deactivate_absent(session, run_id, entity: Entity, chunk, counts: Counter, on_chunk=None):
    """Deactivate the active rows of one entity that the import did not stage."""
    after = None
    while True:
        rows = [row._asdict() for row in session.execute(_absent(run_id, entity, chunk, after))]
        if not rows:
            return
        after = rows[-1]["id"]
        now = utcnow()
        ids = [row["id"] for row in rows]
        session.execute(
            sa.update(entity.model)
            .where(entity.model.id.in_(ids))
            .values(active=False, deactivated_at=now, updated_at=now)
        )
        if entity is PRACTITIONERS:
            _deactivate_roles(session, PractitionerRole.practitioner_id.in_(ids), now)
        for row in rows:
            row["active"] = False
        _emit_all(session, entity, "deactivated", rows, counts)
        _commit(session, counts, on_chunk)


def _commit(session, counts: Counter, on_chunk) -> None:
    if on_chunk is not None:
        on_chunk(counts)
    session.commit()


def _absent(run_id: int, entity: Entity, chunk: int, after):
    """The next `chunk` active rows, by id after `after`, that the run did not stage.

    In id order from where the last chunk ended: the stored rows are walked once in all, however
    many are deactivated.
    """
    model, stage = entity.model, ImportStaging
    staged = sa.exists().where(
        stage.run_id == run_id, stage.entity == entity.name, stage.key == entity.key_column
    )
    query = sa.select(model.__table__).where(model.active.is_(True), ~staged)
    if after is not None:
        query = query.where(model.id > after)
    return query.order_by(model.id).limit(chunk)


def _deactivate_roles(session, condition, now) -> None:
    session.execute(
        sa.update(PractitionerRole)
        .where(condition, PractitionerRole.active.is_(True))
        .values(active=False, deactivated_at=now, updated_at=now)
    )


def _sync_roles(session, records, created, updated, now, places: dict) -> None:
    """Make each written practitioner's active roles exactly its staged activities, each
    carrying its practitioner's name keys (a renamed practitioner's roles are rewritten)."""
    people = {row["national_id"]: row for row in created + updated}
    stored = _stored_roles(session, [row["id"] for row in updated])
    keys = {activity.organisation_key for person, _ in records for activity in person.activities}
    organizations = _organization_ids(session, keys, places)
    inserts, rewritten = [], []
    # One record per practitioner, whose activities have distinct fingerprints (see
    # records.Professional); a new practitioner has no stored role to look up by its UUID.
    for person, _ in records:
        practitioner = people[person.national_id]
        for activity in person.activities:
            key = (practitioner["id"], activity.fingerprint)
            role = stored.pop(key, None) if stored else None
            org_id = organizations.get(activity.organisation_key)
            columns = entities.role_columns(activity, practitioner, org_id)
            columns["updated_at"] = now
            if role is None:
                columns["created_at"] = now
                inserts.append(columns)
            elif _role_differs(role, columns):
                columns["id"] = role.id
                rewritten.append(columns)
    _number(inserts)
    insert_rows(session, PractitionerRole, inserts)
    update_rows(session, PractitionerRole, rewritten)
    gone = [role.id for role in stored.values() if role.active]
    if gone:
        _deactivate_roles(session, PractitionerRole.id.in_(gone), now)


def _role_differs(role, columns: dict) -> bool:
    """Whether a stored role of the same activity must be rewritten: inactive, or at another
    organisation's id, or under a name its practitioner no longer has."""
    return not role.active or any(role._mapping[name] != columns[name] for name in _SYNCED)


# What a stored role may hold that its fingerprint does not cover.
_SYNCED = ("organization_id", "family_search", "given_search")


def _stored_roles(session, practitioner_ids: list) -> dict:
    columns = ("id", "fingerprint", "active", *_SYNCED)
    query = staging.among(PractitionerRole, "practitioner_id", *columns)
    return {
        (role.practitioner_id, role.fingerprint): role
        for role in bulk.rows_among(session, query, practitioner_ids)
    }


def _organization_ids(session, keys: set[str], known: dict) -> dict[str, uuid.UUID]:
    """The ids of the stored organisations among keys (and maybe of others: callers get those
    they ask for), remembering them in `known`, up to KNOWN_ORGANIZATIONS.

    Each chunk names mostly organisations an earlier chunk looked up already: those are not
    looked up again, and when `known` is full, their ids are taken before it is emptied.
    """
    wanted = keys.difference(known)
    wanted.discard("")
    found = _ids_by(session, Organization, "key", list(wanted))
    if len(known) + len(found) <= KNOWN_ORGANIZATIONS:
        known.update(found)
        return known
    ids = {key: known[key] for key in keys if key in known}
    ids.update(found)
    known.clear()
    known.update(found)
    return ids


# About 10 MB at most; a national extract names a few hundred thousand sites.
KNOWN_ORGANIZATIONS = 50_000


def _ids_by(session, model, key: str, keys: list[str]) -> dict:
    """{key: id} of the stored rows of model among keys."""
    query = staging.among(model, key, "id")
    return dict(bulk.rows_among(session, query, keys))


def _link_mailboxes(session, rows: list[dict], places: dict) -> None:
    owners = {row["owner_national_id"] for row in rows if row["owner_national_id"]}
    people = _ids_by(session, Practitioner, "national_id", sorted(owners))
    structures = {row["structure_id"]: entities.structure_key(row["structure_id"]) for row in rows}
    organizations = _organization_ids(session, {key for key in structures.values() if key}, places)
    for row in rows:
        row["practitioner_id"] = people.get(row["owner_national_id"])
        row["organization_id"] = organizations.get(structures[row["structure_id"]])


# The tables a first import fills from nothing. Their unique keys stay: the import looks rows up
# by them. (An organisation has eight other indexes: kept up row by row, the 50,000 sites of a
# national first import took PostgreSQL 1 s to write, 0.4 s without them and 0.2 s to build
# them at the end.)
FILLED_FROM_EMPTY = (Organization, Practitioner, PractitionerRole)


@contextlib.contextmanager
def indexed_later(session):
    """Into empty tables, apply without their search indexes and without checking the roles'
    foreign keys row by row; then build them (in finally) and check the roles at once.

    Kept up row by row, each index takes a random leaf per row written, while one built once the
    rows are in is a sorted pass. Each role written also had its practitioner and its
    organisation looked up: on PostgreSQL by a trigger, a quarter of the server's work on a
    first import, on SQLite a sixth of the import's writing. On PostgreSQL the foreign keys
    are dropped and added back, checked by one join; SQLite, which cannot drop one without
    copying its table, leaves them unenforced meanwhile and checks the roles in one pass
    (servicekit.db.foreign_keys_checked_after). Its transactions keep more pages in memory
    than SQLite's default (servicekit.db.larger_cache), the index builds the default. Searches
    meanwhile read a directory still filling up.
    """
    empty = session.scalar(sa.select(Practitioner.id).limit(1)) is None
    if empty:
        connection = session.connection()
        present = _foreign_key_names(connection)
        for key in foreign_keys_added_later(connection.dialect):
            if key.name in present:
                connection.execute(sa.schema.DropConstraint(key))
        for index in search_indexes():
            index.drop(connection, checkfirst=True)
        session.commit()
    checked = (
        db.foreign_keys_checked_after(session, PractitionerRole.__tablename__)
        if empty
        else contextlib.nullcontext()
    )
    cached = db.larger_cache(session) if empty else contextlib.nullcontext()
    try:
        with checked, cached:
            yield
    except BaseException:
        session.rollback()  # what failed is not committed with the indexes
        raise
    finally:
        if empty:
            build_search_indexes(session)


def build_search_indexes(session) -> None:
    """Build the search indexes of FILLED_FROM_EMPTY that are missing, and add the foreign keys
    a first import left out."""
    connection = session.connection()
    for index in search_indexes():
        index.create(connection, checkfirst=True)
    present = _foreign_key_names(connection)
    for key in foreign_keys_added_later(connection.dialect):
        if key.name not in present:
            connection.execute(sa.schema.AddConstraint(key))
    session.commit()


def search_indexes():
    return [index for model in FILLED_FROM_EMPTY for index in model.__table__.indexes]


def foreign_keys_added_later(dialect) -> list[sa.ForeignKeyConstraint]:
    """The foreign keys a first import adds once its rows are in: the roles', on PostgreSQL
    (SQLite cannot drop a constraint without copying its table)."""
    if dialect.name != "postgresql":
        return []
    return sorted(PractitionerRole.__table__.foreign_key_constraints, key=lambda key: key.name)


def _foreign_key_names(connection) -> set[str]:
    table = PractitionerRole.__tablename__
    return {key["name"] for key in sa.inspect(connection).get_foreign_keys(table)}


def link_waiting_mailboxes(session) -> None:
    """Link the mailboxes imported before their owners existed: each personal mailbox to its
    practitioner, each mailbox to its organisation, once an import of professionals made them.

    The extracts come as two files: whichever is imported first, the links are made.
    """
    now = utcnow()
    owner = sa.select(Practitioner.id).where(Practitioner.national_id == Mailbox.owner_national_id)
    site_key = entities.structure_key_in_sql(Mailbox.structure_id)
    site = sa.select(Organization.id).where(Organization.key == site_key)
    for column, found, identifier in (
        (Mailbox.practitioner_id, owner, Mailbox.owner_national_id),
        (Mailbox.organization_id, site, Mailbox.structure_id),
    ):
        session.execute(
            sa.update(Mailbox)
            .where(column.is_(None), identifier != "", found.exists())
            .values({column: found.scalar_subquery(), Mailbox.updated_at: now})
        )
    session.commit()
