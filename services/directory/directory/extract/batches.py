"""Read an extract into batches of rows to stage, in child processes for large files.

Parsing, checking and grouping the lines costs several times more CPU than staging them. A large
file is therefore read in READERS parts, each by a child process (one part of a zip is read by
inflating it from its start), while the importer stages what they send. A professional
whose lines straddle two parts arrives as two partial records, which staging merges. Children
send plain tuples and strings (cheap to pickle) through a bounded queue, so memory stays
constant, and stop when their parent disappears. A small file is read in-process, where starting
interpreters would cost more than it saves. This module and what it imports stay clear of Flask
and SQLAlchemy: each reading process loads only the extract package.

Children are started with "spawn" (no fork of a process with threads): a script that runs an
import must guard its main code with `if __name__ == "__main__":`, as multiprocessing requires.
"""

import contextlib
import copy
import gc
import multiprocessing
import os
import queue
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from directory.extract.blocks import Block, BlockParser
from directory.extract.formats import MSSANTE, PERSONNE_ACTIVITE
from directory.extract.reader import (
    BLOCK_BYTES,
    ExtractError,
    ExtractReader,
    Problem,
    Rejection,
    Stats,
    open_source,
    read_header,
)
from directory.extract.records import (
    RecentOrganisations,
    fingerprint_joined,
    fingerprint_normal,
    mailbox_from,
)
from directory.extract.rows import (
    Piece,
    StagedRow,
    line_piece,
    mailbox_row,
    professional_row_of,
    site_row,
)

FORMATS = {"ps": PERSONNE_ACTIVITE, "mssante": MSSANTE}
# Files smaller than this are read in-process.
CHILD_READER_MIN_BYTES = 16 << 20
# Child processes reading one plain file (the importer itself needs little CPU meanwhile).
READERS = 2
# Batches each child reads ahead of the importer: each holds `batch_size` records.
READ_AHEAD = 2
# Bytes of the shortest personne-activité line a block is sized for (national lines: 300-500).
SHORTEST_LINE = 128
# How often (seconds) each side checks that the other one is still there.
LIVENESS_SECONDS = 1.0


# Containers allocated and still alive between two collections of the youngest objects
# (Python's default: 700). More than a batch of 2,000 professionals holds at once: the young
# objects a collection finds are mostly the batch in hand, traversed once, not again and again.
YOUNG_COLLECTION_EVERY = 30_000


@contextlib.contextmanager
def fewer_collections():
    """Run the cyclic garbage collector less often meanwhile: an import does (imports.runner),
    and so does each reading process.

    An import allocates millions of short-lived containers while it holds batches of rows for a
    while: collected every 700 allocations, those rows were traversed again and again, then
    promoted and traversed by full collections, which cost about a tenth of a first import's
    CPU. At 30,000, a first import of 400,000 lines runs 10 collections (0.08 CPU-seconds)
    where 10,000 ran 292 (0.84): most containers die (freed by reference counting) before a
    collection sees them. Peak memory does not change. A reading process, which keeps a block's
    pieces for a while, reads 400,000 lines in 4.95-5.31 CPU-seconds instead of 5.24-5.73.
    """
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


class ReaderStopped(OSError):
    """The reading process ended without finishing the file (killed, out of memory)."""


@dataclass
class Batch:
    """What the importer stages next, with the reader's counts so far."""

    rows: list[StagedRow] = field(default_factory=list)  # professionals or mailboxes
    organisations: list[StagedRow] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # rejected lines and warnings
    stats: Stats = field(default_factory=Stats)


def batches(path: str, kind: str, batch_size: int) -> Iterator[Batch]:
    """The extract's staged rows, `batch_size` records at a time, then a last batch.

    The last batch carries the final counts (and the problems after the last record). Errors
    of the file (ExtractError, OSError, a bad zip...) are raised here, wherever it was read.
    """
    if os.path.getsize(path) < CHILD_READER_MIN_BYTES:
        return read(path, kind, batch_size)
    return _from_children(path, kind, batch_size, READERS)


def read(path: str, kind: str, batch_size: int, part=(0, 1)) -> Iterator[Batch]:
    """Read and group the extract (or one part of it, see ExtractReader) in this process.

    A national personne-activité file is read a block of lines at a time (directory.extract.
    blocks): a batch is cut after the block that fills it, so it may hold a block's lines more
    than `batch_size`, and a block holds at most about `batch_size` lines. Any other file is
    read line by line.
    """
    reader = ExtractReader(path, FORMATS[kind], part=part)
    if kind == "ps" and _in_declared_order(path):
        yield from _by_block(reader, batch_size)
    else:
        yield from _by_line(reader, kind, batch_size)


def _in_declared_order(path: str) -> bool:
    """Whether the file's header names the personne-activité columns in their declared order
    (a file without a valid one is not: the line reader says what is wrong with it)."""
    with open_source(path) as (stream, _total):
        first = stream.readline()
    try:
        return read_header(first, PERSONNE_ACTIVITE).columns == PERSONNE_ACTIVITE.columns
    except ExtractError:
        return False


def _by_block(reader: ExtractReader, batch_size: int) -> Iterator[Batch]:
    add = _professionals_adder()
    parse = None
    batch, full = Batch(), False
    for number, raws in reader.blocks(min(BLOCK_BYTES, batch_size * SHORTEST_LINE)):
        if full:  # sent once another block comes: the last one also takes the last professional
            yield batch
            batch, full = Batch(), False
        if parse is None:
            parse = BlockParser(reader.header, reader.value_sets)
        block = parse(number, raws)
        _count(reader.stats, block)
        batch.problems.extend(_problem(item, _severity(item)) for item in block.problems)
        add(batch, block.pieces, block.normal)
        full = len(batch.rows) >= batch_size or len(batch.problems) >= batch_size
        batch.stats = copy.copy(reader.stats)
    add(batch, None)
    batch.stats = copy.copy(reader.stats)
    yield batch


def _count(stats: Stats, block: Block) -> None:
    stats.lines += block.lines
    stats.records += block.records
    stats.rejected += block.rejected
    stats.warned += block.warned
    stats.warnings += block.warnings


def _severity(item: Rejection | Problem) -> str:
    return "error" if isinstance(item, Rejection) else "warning"


def _by_line(reader: ExtractReader, kind: str, batch_size: int) -> Iterator[Batch]:
    add = _add_mailbox if kind == "mssante" else _professionals_adder()
    batch = Batch()
    for item in reader:
        if isinstance(item, Rejection):
            batch.problems.append(_problem(item, "error"))
        else:
            if item.warnings:
                batch.problems.extend(_problem(warning, "warning") for warning in item.warnings)
            add(batch, [line_piece(item.values)] if kind == "ps" else item.values)
        if len(batch.rows) >= batch_size or len(batch.problems) >= batch_size:
            batch.stats = copy.copy(reader.stats)
            yield batch
            batch = Batch()
    add(batch, None)
    batch.stats = copy.copy(reader.stats)
    yield batch


def _professionals_adder():
    """add(batch, pieces, normal) groups the pieces of lines (rows.Piece) into professionals,
    each added to the batch once a line of another one comes; add(batch, None) adds the last
    one. `normal`: no value of these lines needs normalising before it is hashed."""
    run: list[Piece] = []
    run_normal = True  # every line of the run so far is normal
    # A site is on the line of everyone working there: skip the ones staged recently.
    recent = RecentOrganisations()

    def finish(batch: Batch) -> None:
        row, sites = professional_row_of(
            run, fingerprint_normal if run_normal else fingerprint_joined
        )
        batch.rows.append(row)
        for site in sites:
            if recent.is_new(site):
                batch.organisations.append(site_row(site))

    def add(batch: Batch, pieces: list[Piece] | None, normal: bool = False) -> None:
        nonlocal run, run_normal
        if pieces is None:
            if run:
                finish(batch)
                run, run_normal = [], True
            return
        for piece in pieces:
            if run and piece[0] != run[0][0]:
                finish(batch)
                run, run_normal = [piece], normal
            else:
                run.append(piece)
                run_normal = run_normal and normal

    return add


def _add_mailbox(batch: Batch, values) -> None:
    if values is not None:
        batch.rows.append(mailbox_row(mailbox_from(values)))


def _problem(item, severity: str) -> dict:
    return {
        "line": item.line,
        "column": item.column,
        "reason": item.reason[:500],
        "severity": severity,
    }


# --- the child process --------------------------------------------------------------------


def _from_children(path: str, kind: str, batch_size: int, parts: int) -> Iterator[Batch]:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    channel = context.Queue(maxsize=READ_AHEAD * parts)
    children = [
        context.Process(
            target=_produce,
            args=(path, kind, batch_size, (index, parts), channel, os.getpid()),
            name=f"directory-import-reader-{index}",
            daemon=True,
        )
        for index in range(parts)
    ]
    for child in children:
        child.start()
    try:
        yield from _received(channel, children)
    finally:
        _stop(children, channel)


def _received(channel, children) -> Iterator[Batch]:
    """The children's batches, each with the counts of all parts so far."""
    latest = [Stats() for _ in children]
    finished: set[int] = set()
    while len(finished) < len(children):
        message, index, payload = _next_message(channel, children, finished)
        if message == "error":
            raise payload
        if message == "done":
            finished.add(index)
            continue
        latest[index] = payload.stats
        payload.stats = _summed(latest)
        yield payload


def _summed(parts: list[Stats]) -> Stats:
    total = Stats(total_bytes=max(part.total_bytes for part in parts))
    for name in ("lines", "records", "rejected", "warned", "warnings", "bytes_read"):
        setattr(total, name, sum(getattr(part, name) for part in parts))
    return total


def _next_message(channel, children, finished: set[int]) -> tuple:
    while True:
        try:
            return channel.get(timeout=LIVENESS_SECONDS)
        except queue.Empty:
            stopped = [
                child
                for index, child in enumerate(children)
                if index not in finished and not child.is_alive()
            ]
            if stopped:
                break
    try:
        return channel.get_nowait()  # sent just before it ended
    except queue.Empty:
        reason = f"la lecture de l'extraction s'est arrêtée (code {stopped[0].exitcode})"
        raise ReaderStopped(reason) from None


def _stop(children, channel) -> None:
    for child in children:
        if child.is_alive():
            child.terminate()
    for child in children:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join()
    channel.close()
    channel.join_thread()


def _produce(path: str, kind: str, batch_size: int, part, channel, parent: int) -> None:
    """A child's work: read its part, send each batch, then "done" (or the error raised)."""
    index = part[0]
    try:
        with fewer_collections():
            for batch in read(path, kind, batch_size, part):
                _send(channel, ("batch", index, batch), parent)
    except Exception as exc:  # the importer decides what an error means
        _send(channel, ("error", index, _picklable(exc)), parent)
        return
    _send(channel, ("done", index, None), parent)


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
