"""Read an extract into batches of staged rows, in a separate process for large files.

Parsing, checking and grouping the lines costs more CPU than staging them. A large extract is
therefore read by a child process while the importer stages the previous batch: the two cores
of a small server work at once. The child sends plain tuples and strings (cheap to pickle)
through a bounded queue, so memory stays constant, and stops when its parent disappears. A small
file is read in-process, where starting an interpreter would cost more than it saves.
"""

import copy
import multiprocessing
import os
import queue
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from directory.extract import MSSANTE, PERSONNE_ACTIVITE, ExtractError, ExtractReader, Stats
from directory.extract.reader import Rejection
from directory.extract.records import ProfessionalRuns, RecentOrganisations, mailbox_from
from directory.imports import staging

FORMATS = {"ps": PERSONNE_ACTIVITE, "mssante": MSSANTE}
# Files smaller than this are read in-process.
CHILD_READER_MIN_BYTES = 16 << 20
# Batches read ahead of the importer: each holds `batch_size` records.
READ_AHEAD = 2
# How often (seconds) each side checks that the other one is still there.
LIVENESS_SECONDS = 1.0


class ReaderStopped(OSError):
    """The reading process ended without finishing the file (killed, out of memory)."""


@dataclass
class Batch:
    """What the importer stages next, with the reader's counts so far."""

    rows: list[staging.StagedRow] = field(default_factory=list)  # professionals or mailboxes
    organisations: list[staging.StagedRow] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # rejected lines and warnings
    stats: Stats = field(default_factory=Stats)


def batches(path: str, kind: str, batch_size: int) -> Iterator[Batch]:
    """The extract's staged rows, `batch_size` records at a time, then a last batch.

    The last batch carries the final counts (and the problems after the last record). Errors
    of the file (ExtractError, OSError, a bad zip...) are raised here, wherever it was read.
    """
    if os.path.getsize(path) < CHILD_READER_MIN_BYTES:
        return read(path, kind, batch_size)
    return _from_child(path, kind, batch_size)


def read(path: str, kind: str, batch_size: int) -> Iterator[Batch]:
    """Read and group the extract in this process."""
    reader = ExtractReader(path, FORMATS[kind])
    add = _add_mailbox if kind == "mssante" else _professionals_adder()
    batch = Batch()
    for item in reader:
        if isinstance(item, Rejection):
            batch.problems.append(_problem(item, "error"))
        else:
            if item.warnings:
                batch.problems.extend(_problem(warning, "warning") for warning in item.warnings)
            add(batch, item.fields)
        if len(batch.rows) >= batch_size or len(batch.problems) >= batch_size:
            batch.stats = copy.copy(reader.stats)
            yield batch
            batch = Batch()
    add(batch, None)
    batch.stats = copy.copy(reader.stats)
    yield batch


def _professionals_adder():
    """add(batch, fields) groups lines into professionals; add(batch, None) adds the last one."""
    runs = ProfessionalRuns()
    # A site is on the line of everyone working there: skip the ones staged recently.
    recent = RecentOrganisations()

    def add(batch: Batch, fields) -> None:
        person = runs.push(fields) if fields is not None else runs.flush()
        if person is not None:
            batch.rows.append(staging.professional_row(person))
            batch.organisations.extend(
                staging.organisation_row(org) for org in person.organisations if recent.is_new(org)
            )

    return add


def _add_mailbox(batch: Batch, fields) -> None:
    if fields is not None:
        batch.rows.append(staging.mailbox_row(mailbox_from(fields)))


def _problem(item, severity: str) -> dict:
    return {
        "line": item.line,
        "column": item.column,
        "reason": item.reason[:500],
        "severity": severity,
    }


# --- the child process --------------------------------------------------------------------


def _from_child(path: str, kind: str, batch_size: int) -> Iterator[Batch]:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    channel = context.Queue(maxsize=READ_AHEAD)
    child = context.Process(
        target=_produce,
        args=(path, kind, batch_size, channel, os.getpid()),
        name="directory-import-reader",
        daemon=True,
    )
    child.start()
    try:
        yield from _received(channel, child)
    finally:
        _stop(child, channel)


def _received(channel, child) -> Iterator[Batch]:
    while True:
        message, payload = _next_message(channel, child)
        if message == "error":
            raise payload
        if message == "done":
            return
        yield payload


def _next_message(channel, child) -> tuple:
    while True:
        try:
            return channel.get(timeout=LIVENESS_SECONDS)
        except queue.Empty:
            if not child.is_alive():
                break
    try:
        return channel.get_nowait()  # sent just before it ended
    except queue.Empty:
        reason = f"la lecture de l'extraction s'est arrêtée (code {child.exitcode})"
        raise ReaderStopped(reason) from None


def _stop(child, channel) -> None:
    if child.is_alive():
        child.terminate()
    child.join(timeout=10)
    if child.is_alive():
        child.kill()
        child.join()
    channel.close()
    channel.join_thread()


def _produce(path: str, kind: str, batch_size: int, channel, parent: int) -> None:
    """The child's work: read the file, send each batch, then "done" (or the error raised)."""
    try:
        for batch in read(path, kind, batch_size):
            _send(channel, ("batch", batch), parent)
    except Exception as exc:  # the importer decides what an error means
        _send(channel, ("error", _picklable(exc)), parent)
        return
    _send(channel, ("done", None), parent)


def _send(channel, message, parent: int) -> None:
    while True:
        try:
            channel.put(message, timeout=LIVENESS_SECONDS)
            return
        except queue.Full:
            if os.getppid() != parent:  # the importer is gone: nobody will read this
                raise SystemExit(1) from None


def _picklable(exc: Exception) -> Exception:
    # The file's own errors travel as they are; anything else as its text.
    if isinstance(exc, TRAVELLING):
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")


# What reading a file raises, all rebuilt as they were on the other side of the queue.
TRAVELLING = (ExtractError, OSError, EOFError, zipfile.BadZipFile, zlib.error)
