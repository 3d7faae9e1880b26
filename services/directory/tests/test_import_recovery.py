"""An import whose worker died is taken up again, and applies each change exactly once; a first
import builds its search indexes (and on PostgreSQL the roles' foreign keys) once its rows are in,
whatever happens meanwhile."""

import datetime as dt
import functools

import pytest
import sqlalchemy as sa
from directory.extract import generate
from directory.imports import apply, jobs, staging
from directory.models import Base, ImportRun, ImportStaging, Practitioner
from servicekit import db
from servicekit.migrations import differences
from servicekit.models import utcnow
from servicekit.testing import emitted

CREATED = "fr.enrs.directory.practitioner.created"


class WorkerDied(BaseException):
    """What a killed worker looks like from the database: it stops between two commits.

    A BaseException, so no `except Exception` of the import marks the run failed: the run is
    left "running" with its staged rows, as after a SIGKILL or an out-of-memory kill.
    """


@pytest.fixture
def extract(tmp_path):
    return generate(tmp_path / "PS_LibreAcces_Personne_activite.txt", 240, seed=11)


def queue(app, path) -> int:
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", path.name, str(path), "test")
        session.commit()
        return run.id


def die_at(monkeypatch, module, name, after_calls=0):
    """Make module.name kill the worker at its (after_calls + 1)-th call."""
    original = getattr(module, name)
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) > after_calls:
            raise WorkerDied
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, dying)


def run_worker_until_it_dies(app):
    with pytest.raises(WorkerDied):
        jobs.run_queued(app)


def age_heartbeat(db_session, run_id, seconds=3600):
    db_session.execute(
        sa.update(ImportRun)
        .where(ImportRun.id == run_id)
        .values(heartbeat_at=utcnow() - dt.timedelta(seconds=seconds))
    )
    db_session.commit()


def run_of(db_session, run_id) -> ImportRun:
    db_session.expire_all()
    return db_session.get(ImportRun, run_id)


def staged_rows(db_session, run_id) -> int:
    query = sa.select(sa.func.count()).select_from(ImportStaging)
    return db_session.scalar(query.where(ImportStaging.run_id == run_id))


def test_a_run_whose_worker_died_while_reading_is_imported_again_from_the_start(
    app, extract, db_session, monkeypatch
):
    run_id = queue(app, extract.path)
    with monkeypatch.context() as patch:
        die_at(patch, staging, "stage_organisations", after_calls=1)
        run_worker_until_it_dies(app)
    assert run_of(db_session, run_id).status == "running"
    assert staged_rows(db_session, run_id) > 0

    age_heartbeat(db_session, run_id)
    assert jobs.run_queued(app) == 1

    run = run_of(db_session, run_id)
    assert (run.status, run.attempts, run.lines) == ("done", 2, 240)
    assert run.created > 0 and staged_rows(db_session, run_id) == 0
    assert len(emitted(db_session, CREATED)) == extract.professionals


def test_changes_applied_before_the_worker_died_are_not_emitted_twice(
    app, extract, db_session, monkeypatch
):
    run_id = queue(app, extract.path)
    with monkeypatch.context() as patch:
        # Every creation is committed with its events; the worker dies before deactivating.
        die_at(patch, apply, "deactivate_absent")
        run_worker_until_it_dies(app)
    practitioners = db_session.scalar(sa.select(sa.func.count()).select_from(Practitioner))
    assert practitioners == extract.professionals
    assert len(emitted(db_session, CREATED)) == extract.professionals

    age_heartbeat(db_session, run_id)
    assert jobs.run_queued(app) == 1

    run = run_of(db_session, run_id)
    assert (run.status, run.created, run.updated, run.deactivated) == ("done", 0, 0, 0)
    assert len(emitted(db_session, CREATED)) == extract.professionals


def test_a_run_abandoned_twice_fails_with_a_reason_instead_of_killing_the_next_worker(
    app, extract, db_session, monkeypatch
):
    run_id = queue(app, extract.path)
    with monkeypatch.context() as patch:
        die_at(patch, staging, "stage_organisations")
        for _attempt in range(jobs.MAX_ATTEMPTS):
            run_worker_until_it_dies(app)
            age_heartbeat(db_session, run_id)

    assert jobs.run_queued(app) == 0
    run = run_of(db_session, run_id)
    assert (run.status, run.attempts) == ("failed", jobs.MAX_ATTEMPTS)
    assert run.error == "interrompu : le traitement de l’import s’est arrêté 2 fois"
    assert run.finished_at is not None and staged_rows(db_session, run_id) == 0
    assert emitted(db_session, CREATED) == []


def test_a_run_whose_worker_still_beats_is_left_to_it(app, extract, db_session, monkeypatch):
    run_id = queue(app, extract.path)
    with monkeypatch.context() as patch:
        die_at(patch, staging, "stage_organisations", after_calls=1)
        run_worker_until_it_dies(app)
    age_heartbeat(db_session, run_id, seconds=jobs.LEASE_SECONDS // 2)

    assert jobs.run_queued(app) == 0
    run = run_of(db_session, run_id)
    assert (run.status, run.attempts) == ("running", 1)
    assert staged_rows(db_session, run_id) > 0


def test_a_running_import_beats_at_every_batch_it_commits(app, extract, db_session):
    from directory.imports import run_import

    beats = []
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", extract.path.name, str(extract.path), "test")
        session.commit()
        run_import(session, run, batch_size=25, on_batch=lambda run: beats.append(run.heartbeat_at))
        last = run.heartbeat_at
    assert len(beats) > 1 and None not in beats  # batches of 25 professionals
    assert beats == sorted(beats) and len(set(beats)) == len(beats)
    assert last > beats[-1]  # the apply phase beats too


SEARCH_INDEXES = {index.name for index in apply.search_indexes()}
ROLE_FOREIGN_KEYS = {
    "fk_practitioner_roles_organization_id_organizations",
    "fk_practitioner_roles_practitioner_id_practitioners",
}


def sqlite_pragma(app, name="foreign_keys"):
    """An SQLite pragma on a connection this thread checks out now (else None)."""
    engine = db.database(app).engine
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def sqlite_enforces(app):
    """SQLite's foreign_keys pragma on a connection this thread checks out now (else None)."""
    return sqlite_pragma(app, "foreign_keys")


def added_later(app) -> set[str]:
    """The roles' foreign keys a first import adds once its rows are in, on this database."""
    dialect = db.database(app).engine.dialect
    return {key.name for key in apply.foreign_keys_added_later(dialect)}


def indexes_while_applying(monkeypatch, index_names, entity=None) -> list[set[str]]:
    """The index names seen each time apply_changes starts (for `entity`, or any)."""
    seen = []
    original = apply.apply_changes

    def watched(session, run_id, applied, *args, **kwargs):
        if entity is None or applied is entity:
            seen.append(index_names())
        return original(session, run_id, applied, *args, **kwargs)

    monkeypatch.setattr(apply, "apply_changes", watched)
    return seen


def test_a_first_import_builds_the_search_indexes_once_its_rows_are_in(
    app, extract, db_session, monkeypatch, index_names, role_foreign_keys
):
    during = indexes_while_applying(monkeypatch, index_names, apply.PRACTITIONERS)
    keys_during = indexes_while_applying(monkeypatch, role_foreign_keys, apply.PRACTITIONERS)
    enforcing = functools.partial(sqlite_enforces, app)
    enforcing_during = indexes_while_applying(monkeypatch, enforcing, apply.PRACTITIONERS)
    cache = functools.partial(sqlite_pragma, app, "cache_size")
    cache_during = indexes_while_applying(monkeypatch, cache, apply.PRACTITIONERS)
    cache_building = []
    build = apply.build_search_indexes

    def watched_build(session):
        if session.get_bind().dialect.name == "sqlite":
            pragma = session.connection().exec_driver_sql("PRAGMA cache_size")
            cache_building.append(pragma.scalar())
        build(session)

    monkeypatch.setattr(apply, "build_search_indexes", watched_build)
    queue(app, extract.path)
    assert jobs.run_queued(app) == 1

    assert during and not during[0] & SEARCH_INDEXES
    assert index_names() >= SEARCH_INDEXES
    # PostgreSQL checks the roles' foreign keys once the rows are in; SQLite keeps them.
    assert added_later(app) == (
        ROLE_FOREIGN_KEYS if db_session.bind.dialect.name == "postgresql" else set()
    )
    assert keys_during == [ROLE_FOREIGN_KEYS - added_later(app)]
    assert role_foreign_keys() == ROLE_FOREIGN_KEYS
    if not added_later(app):  # SQLite: enforced again once the roles were checked at once
        assert enforcing_during == [0] and sqlite_enforces(app) == 1
        # A larger page cache while writing; SQLite's own for the index builds, and after.
        assert cache_during == [-db.LARGER_CACHE_KIB] and sqlite_pragma(app, "cache_size") == -2000
        assert set(cache_building) == {-2000}
    assert differences(app, Base.metadata) == []


def test_a_later_import_keeps_its_indexes_while_applying(
    app, extract, db_session, monkeypatch, index_names, role_foreign_keys
):
    queue(app, extract.path)
    jobs.run_queued(app)
    during = indexes_while_applying(monkeypatch, index_names)
    keys_during = indexes_while_applying(monkeypatch, role_foreign_keys)
    queue(app, extract.path)
    assert jobs.run_queued(app) == 1

    assert during and all(names >= SEARCH_INDEXES for names in during)
    assert keys_during and all(names == ROLE_FOREIGN_KEYS for names in keys_during)


def test_a_first_import_that_fails_while_applying_leaves_every_index(
    app, extract, db_session, monkeypatch
):
    run_id = queue(app, extract.path)
    with monkeypatch.context() as patch:
        die_at(patch, apply, "deactivate_absent")
        run_worker_until_it_dies(app)
    assert run_of(db_session, run_id).status == "running"

    assert differences(app, Base.metadata) == []


def test_the_indexes_a_killed_first_import_left_out_are_built_by_the_next_run(
    app, extract, db_session, index_names, role_foreign_keys
):
    queue(app, extract.path)
    jobs.run_queued(app)
    with db.database(app).engine.begin() as connection:  # as a first import killed midway
        for index in apply.search_indexes():
            index.drop(connection)
        for key in apply.foreign_keys_added_later(connection.dialect):
            connection.execute(sa.schema.DropConstraint(key))
    assert not index_names() & SEARCH_INDEXES
    assert role_foreign_keys() == ROLE_FOREIGN_KEYS - added_later(app)

    queue(app, extract.path)
    assert jobs.run_queued(app) == 1

    assert differences(app, Base.metadata) == []
