"""Run one import: read the whole extract into staging, then apply the difference.

Reading commits per batch (progress, counts, rejected lines) so the admin page can follow it;
nothing in the directory tables changes until the whole file was read. A file that cannot be
read to its end (bad header, broken zip, I/O error) fails the run and changes nothing.
"""

import functools
import logging
import os
import zipfile
from collections import Counter

import sqlalchemy as sa
from servicekit.models import utcnow

from directory.extract import ExtractError, batches
from directory.imports import apply, staging
from directory.models import ImportRejection, ImportRun, Organization, Practitioner

log = logging.getLogger(__name__)

# Errors of an extract that cannot be read to its end: the run fails, nothing changes.
UNREADABLE = batches.TRAVELLING


# The tables an import writes, and those whose statistics it takes.
WRITTEN = ("organizations", "practitioners", "practitioner_roles", "mailboxes")
ANALYZED = ("import_staging", *WRITTEN)
# The columns a first import looks rows up by while it writes: their statistics plan those
# lookups (a whole table's cost four times as much; the import ends with VACUUM (ANALYZE)).
LOOKED_UP = (
    "organizations (key)",
    "practitioners (national_id)",
    "practitioner_roles (practitioner_id)",
)


# The last batch after which a first import takes those statistics again (at batches 1, 2, 4...).
# By then the lookups are planned as index scans, which they stay: PostgreSQL scales the rows
# it last counted by the table's size now. Each ANALYZE samples 30,000 rows of each table, read
# at random: at national size, those of batches 128, 256 and 512 took 0.7 s of 1 in all.
LOOKED_UP_ANALYZED_UNTIL = 64


class ImportFailed(Exception):
    """The extract could not be read to its end; the run was marked failed."""


# A personne-activité file at least this large, imported into an empty directory, is written
# as it is read (see _fill_empty); a smaller one is staged first, like every other import.
DIRECT_MIN_BYTES = 16 << 20
# Batches a first import writes between two commits. Each commit writes out again the last
# pages of every table and index the import grows (on SQLite, into its write-ahead log): at
# national size, a commit per batch cost 2 CPU-seconds more in 37 of writing. The progress
# the admin page shows moves as often (a commit every 8,000 professionals, under a second).
FILLING_COMMIT_EVERY = 4


def run_import(session, run: ImportRun, batch_size: int = 2000, on_batch=None) -> Counter:
    """Read run.path fully, then apply creations, updates and deactivations; the changes."""
    with batches.fewer_collections():
        return _run(session, run, batch_size, on_batch)


def _run(session, run: ImportRun, batch_size: int, on_batch) -> Counter:
    _start(session, run)
    direct = _fills_empty_directory(session, run)
    try:
        if direct:
            changes = _fill_empty(session, run, batch_size, on_batch)
        else:
            _read(session, run, batch_size, on_batch)
    except UNREADABLE as exc:
        _fail(session, run, exc)
        raise ImportFailed(run.error) from exc
    if not direct:
        changes = _apply(session, run, batch_size)
    _finish(session, run, changes)
    return changes


def _fills_empty_directory(session, run: ImportRun) -> bool:
    """Whether the run is a large plain personne-activité file for an empty directory."""
    if run.kind != "ps" or zipfile.is_zipfile(run.path):
        return False  # a zip's checksum is only verified at its end
    if os.path.getsize(run.path) < DIRECT_MIN_BYTES:
        return False
    return all(
        session.scalar(sa.select(model.id).limit(1)) is None
        for model in (Practitioner, Organization)
    )


def _fill_empty(session, run: ImportRun, batch_size: int, on_batch) -> Counter:
    """Write a first import batch by batch as its lines are read, without staging them.

    Into an empty directory, the difference is everything read: staging each record, reading it
    back and joining it with empty tables only cost CPU. Every FILLING_COMMIT_EVERY batches are
    committed with their events and the run's progress, so a worker killed midway leaves what a
    staged import killed while applying leaves: rows with their events, completed by the next
    attempt (which finds the directory filled, stages and compares). A file cut short is
    refused before anything is written; one that fails later (a reading process killed, an I/O
    error) leaves the batches committed before, where a staged import would leave nothing:
    nothing was there to deactivate, and importing the file again completes it.
    """
    _check_complete(run.path)
    changes: Counter = Counter()
    filling = apply.Filling()
    with apply.indexed_later(session):
        for number, batch in enumerate(batches.batches(run.path, run.kind, batch_size), 1):
            apply.write_into_empty(session, batch, changes, filling)
            _count(run, changes)
            _progress(session, run, batch, commit=number % FILLING_COMMIT_EVERY == 0)
            if number & (number - 1) == 0 and number <= LOOKED_UP_ANALYZED_UNTIL:
                _analyze(session, LOOKED_UP)  # the lookups by key must not plan for empty tables
            if on_batch is not None:
                on_batch(run)
        apply.link_waiting_mailboxes(session)
    _vacuum(session)  # once the search indexes are built
    return changes


def _start(session, run: ImportRun) -> None:
    run.status, run.started_at, run.error = "running", utcnow(), None
    session.commit()


def _read(session, run: ImportRun, batch_size: int, on_batch) -> None:
    stage = _stager(run.kind, run.id)
    for number, batch in enumerate(batches.batches(run.path, run.kind, batch_size), start=1):
        stage(session, batch)
        _progress(session, run, batch)
        if number & (number - 1) == 0:  # batches 1, 2, 4, 8...: staging doubled since last time
            _analyze(session, ANALYZED[:1])
        if on_batch is not None:
            on_batch(run)
    _check_complete(run.path)


def _check_complete(path: str) -> None:
    # A plain file cut short ends mid-line; applying it would deactivate everyone after the cut.
    # (A zip cut short fails its CRC check while being read.)
    if zipfile.is_zipfile(path):
        return
    with open(path, "rb") as stream:
        size = stream.seek(0, 2)
        if size:
            stream.seek(size - 1)
            last = stream.read(1)
    if size and last != b"\n":
        raise ExtractError("fichier tronqué : la dernière ligne est incomplète")


def _stager(kind: str, run_id: int):
    """How a batch of staged rows is written."""
    if kind == "mssante":
        return lambda session, batch: staging.stage_mailboxes(session, run_id, batch.rows)

    seen = staging.SeenKeys()

    def stage(session, batch):
        staging.stage_professionals(session, run_id, batch.rows, seen)
        staging.stage_organisations(session, run_id, batch.organisations)

    return stage


def _progress(session, run: ImportRun, batch: batches.Batch, commit: bool = True) -> None:
    """Record the batch's rejected lines and the run's progress, and commit unless told not to
    (with what the batch wrote)."""
    if batch.problems:
        rows = [{**problem, "run_id": run.id} for problem in batch.problems]
        apply.insert_rows(session, ImportRejection, rows)  # a national file warns on 8 % of lines
    stats = batch.stats
    run.bytes_total, run.bytes_read = stats.total_bytes, stats.bytes_read
    run.lines, run.imported = stats.lines, stats.records
    run.rejected, run.warned = stats.rejected, stats.warned
    run.heartbeat_at = utcnow()
    if commit:
        session.commit()


def _apply(session, run: ImportRun, chunk: int) -> Counter:
    _analyze(session)
    # A first import that stopped midway left the search indexes out (see apply.indexed_later).
    apply.build_search_indexes(session)
    if run.kind != "ps":
        changes = _apply_changes(session, run, chunk)
    else:
        with apply.indexed_later(session):
            changes = _apply_changes(session, run, chunk)
    _vacuum(session)  # once the search indexes are built
    return changes


def _apply_changes(session, run: ImportRun, chunk: int) -> Counter:
    changes: Counter = Counter()
    kinds = (apply.ORGANIZATIONS, apply.PRACTITIONERS) if run.kind == "ps" else (apply.MAILBOXES,)
    count = functools.partial(_count, run)
    for entity in kinds:
        apply.apply_changes(session, run.id, entity, chunk, changes, count)
    for entity in reversed(kinds):
        apply.deactivate_absent(session, run.id, entity, chunk, changes, count)
    if run.kind == "ps":
        apply.link_waiting_mailboxes(session)
    return changes


def _vacuum(session, tables=WRITTEN) -> None:
    """On PostgreSQL, VACUUM (ANALYZE) the tables an import wrote, once it has written them.

    The statistics taken before applying describe the tables as they were: after a first
    import, empty, and PostgreSQL would plan every search as a scan of nothing. And after a bulk
    write no page is yet marked all-visible: an index-only scan (a name search counting its
    matches up to a thousand) then reads the table row by row, 12 ms instead of 0.3 ms at
    national size, until autovacuum comes by. A user who may not vacuum a table gets a warning
    from PostgreSQL, not an error.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.commit()
    with session.get_bind().connect() as connection:
        # VACUUM runs outside any transaction.
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(tables))


def _analyze(session, tables=ANALYZED) -> None:
    # Staging grows from nothing within one run: without fresh statistics PostgreSQL plans its
    # lookups and the diff's joins as scans of "empty" tables, which turns quadratic.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("ANALYZE " + ", ".join(tables)))
        session.commit()


def _finish(session, run: ImportRun, changes: Counter) -> None:
    staging.clear(session, run.id)
    _count(run, changes)
    run.status, run.finished_at = "done", utcnow()
    session.commit()
    log.info("directory import done", extra={"run_id": run.id, **dict(changes)})


def _count(run: ImportRun, changes: Counter) -> None:
    """The run's created / updated / deactivated counts, summed over its entities (and a beat)."""
    run.heartbeat_at = utcnow()
    run.created = _total(changes, "created")
    run.updated = _total(changes, "updated")
    run.deactivated = _total(changes, "deactivated")


def _total(changes: Counter, verb: str) -> int:
    return sum(count for name, count in changes.items() if name.endswith("." + verb))


def _fail(session, run: ImportRun, exc: Exception) -> None:
    session.rollback()
    staging.clear(session, run.id)
    run.status, run.finished_at = "failed", utcnow()
    run.error = f"{type(exc).__name__}: {exc}"[:1000]
    session.commit()
    log.warning("directory import failed", extra={"run_id": run.id, "error": type(exc).__name__})
