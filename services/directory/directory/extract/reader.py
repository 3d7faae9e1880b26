"""Stream an extract (plain file or zip) line by line: records, rejections and progress.

Memory stays constant: one line is decoded, split and checked at a time. Bytes are read and
decoded per line so that invalid UTF-8 rejects that line only.
"""

import os
import zipfile
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from directory.extract.formats import ExtractFormat, detect
from directory.extract.rules import RULES
from directory.extract.valuesets import ValueSets, packaged_value_sets

ProgressCallback = Callable[[int, int], None]
TEXT_SUFFIXES = (".txt", ".csv")
PROGRESS_EVERY = 1 << 20
# About this many bytes of lines at a time, for a reader of blocks (ExtractReader.blocks).
BLOCK_BYTES = 1 << 18


class ExtractError(Exception):
    """The file cannot be read as an extract at all (no header, unknown columns, bad zip)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A warning on a kept line: where and why."""

    line: int
    column: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line left out of the import: its number, the column at fault (if one) and why."""

    line: int
    column: str | None
    reason: str


# Not frozen, though nothing changes one once it is built: one is built per kept line, and a
# frozen one costs three times more to build (each field set through object.__setattr__).
@dataclass(slots=True)
class Record:
    """A kept line: its number, its values in its format's column order and its warnings.

    Values are read by position (ExtractFormat.getter): a dict of 56 fields per line cost a
    tenth of the reading. A column the header lacks reads as empty; `fields` names them all.
    """

    line: int
    values: Sequence[str]
    warnings: tuple[Problem, ...] = ()
    columns: tuple[str, ...] = ()

    @property
    def fields(self) -> dict[str, str]:
        """The values by declared column name."""
        return dict(zip(self.columns, self.values, strict=False))


@dataclass
class Stats:
    """Running counts of one read."""

    lines: int = 0
    records: int = 0
    rejected: int = 0
    warned: int = 0
    warnings: int = 0
    bytes_read: int = 0
    total_bytes: int = 0


@dataclass(frozen=True)
class Header:
    """The layout a file's header declares: its columns and whether lines end with `|`."""

    fmt: ExtractFormat
    columns: tuple[str, ...]
    trailing: bool
    absent: tuple[str, ...] = field(default=())


def _text_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    members = [i for i in archive.infolist() if i.filename.lower().endswith(TEXT_SUFFIXES)]
    if len(members) != 1:
        raise ExtractError("l'archive doit contenir exactement un fichier .txt ou .csv")
    return members[0]


@contextmanager
def open_source(path: Path | str) -> Iterator[tuple[BinaryIO, int]]:
    """Open the extract or the single text file of its zip; yield (binary stream, total bytes)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = _text_member(archive)
            with archive.open(member) as stream:
                yield stream, member.file_size
    else:
        with open(path, "rb", buffering=PROGRESS_EVERY) as stream:
            yield stream, os.path.getsize(path)


def read_header(raw: bytes, fmt: ExtractFormat | None = None) -> Header:
    """Map the header cells to the declared columns of the (given or detected) format."""
    try:
        cells = raw.decode("utf-8-sig").rstrip("\r\n").split("|")
    except UnicodeDecodeError as exc:
        raise ExtractError("en-tête illisible : UTF-8 invalide") from exc
    trailing = len(cells) > 1 and cells[-1] == ""
    if trailing:
        cells.pop()
    fmt = fmt or detect(cells)
    if fmt is None:
        raise ExtractError("format d'extraction non reconnu d'après l'en-tête")
    columns = tuple(_declared(fmt, cell) for cell in cells)
    if len(set(columns)) != len(columns):
        raise ExtractError("colonne en double dans l'en-tête")
    lacking = [c for c in fmt.mandatory if c not in columns]
    if lacking:
        raise ExtractError(f"colonne obligatoire absente de l'en-tête : {lacking[0]}")
    absent = tuple(c for c in fmt.columns if c not in columns)
    return Header(fmt, columns, trailing, absent)


def _declared(fmt: ExtractFormat, cell: str) -> str:
    column = fmt.canonical(cell)
    if column is None:
        raise ExtractError(f"colonne inconnue dans l'en-tête : {cell.strip()}")
    return column


class ExtractReader:
    """Iterate over an extract's lines as Record or Rejection, counting as it goes.

    `part=(index, count)` reads only the lines that start in the index-th of `count` equal byte
    ranges of the (unzipped) text, with their true line numbers: readers of the parts of one
    file see each line exactly once between them, and their bytes add up to the file's.
    """

    def __init__(
        self,
        path: Path | str,
        fmt: ExtractFormat | None = None,
        value_sets: ValueSets | None = None,
        on_progress: ProgressCallback | None = None,
        part: tuple[int, int] = (0, 1),
    ):
        self.path = path
        self.fmt = fmt
        self.value_sets = value_sets or packaged_value_sets()
        self.on_progress = on_progress
        self.part = part
        self.stats = Stats()
        self.header: Header | None = None

    def __iter__(self) -> Iterator[Record | Rejection]:
        with open_source(self.path) as (stream, total):
            number, budget = self._start(stream, total)
            yield from self._lines(stream, number, budget)
            self._advance(0, force=True)

    def blocks(self, size: int = BLOCK_BYTES) -> Iterator[tuple[int, list[bytes]]]:
        """The part's lines as they are in the file, about `size` bytes of them at a time, each
        block with the number of the line before it: reading them is the caller's, and so are
        the counts of Stats but the bytes (directory.extract.blocks)."""
        with open_source(self.path) as (stream, total):
            number, budget = self._start(stream, total)
            taken = 0
            while taken < budget:
                raws = stream.readlines(size)
                # Where each line starts: those starting before the budget are the part's.
                starts = list(accumulate(map(len, raws), initial=taken))
                count = bisect_left(starts, budget, 0, len(raws))
                if count < len(raws):
                    del raws[count:]
                self._advance(starts[count] - taken)
                taken = starts[count]
                if not raws:
                    break
                yield number, raws
                number += count
            self._advance(0, force=True)

    def _start(self, stream: BinaryIO, total: int) -> tuple[int, int]:
        """Read the header and on to the part's first line: (number of the line before, how
        many bytes from there the part's lines start within)."""
        self.stats = Stats(total_bytes=total)
        first = stream.readline()
        if not first:
            raise ExtractError("fichier vide : en-tête absent")
        self.header = read_header(first, self.fmt)
        self.fmt = self.header.fmt
        index, count = self.part
        start, end = _bounds(index, count, len(first), total)
        if index == 0:
            self._advance(len(first), force=True)
        number, position = _skip_to(stream, start, len(first))
        return number, end - position

    def _lines(self, stream: BinaryIO, number: int, budget: int) -> Iterator[Record | Rejection]:
        """The lines starting less than `budget` bytes from here; `number` is the line before."""
        parse = LineParser(self.header, self.value_sets)
        stats = self.stats
        taken = 0
        for raw in stream:
            if taken >= budget:
                break
            taken += len(raw)
            number += 1
            self._advance(len(raw))
            if not raw.strip():
                continue
            item = parse(number, raw)
            stats.lines += 1
            if isinstance(item, Rejection):
                stats.rejected += 1
            else:
                stats.records += 1
                if item.warnings:
                    stats.warned += 1
                    stats.warnings += len(item.warnings)
            yield item

    def _advance(self, size: int, force: bool = False) -> None:
        before = self.stats.bytes_read
        self.stats.bytes_read = after = before + size
        crossed = after // PROGRESS_EVERY != before // PROGRESS_EVERY
        if self.on_progress is not None and (force or crossed):
            self.on_progress(after, self.stats.total_bytes)


def _bounds(index: int, count: int, header: int, total: int) -> tuple[int, int]:
    """The byte range [start, end) of part `index`: lines starting there belong to it."""
    if not 0 <= index < count:
        raise ValueError(f"part {index} of {count}")
    body = total - header
    return header + body * index // count, header + body * (index + 1) // count


def _skip_to(stream: BinaryIO, start: int, header: int) -> tuple[int, int]:
    """Read on to the first line starting at or after `start`: (number of the line before, offset).

    The bytes before are read, not sought past: a zip member is read the same way.
    """
    if start == header:
        return 1, header
    number = 1 + _newlines(stream, start - 1 - header)
    rest = stream.readline()  # the end of the line that byte start - 1 belongs to (maybe "\n")
    return number + rest.endswith(b"\n"), start - 1 + len(rest)


def _newlines(stream: BinaryIO, size: int) -> int:
    count = 0
    while size > 0:
        chunk = stream.read(min(size, PROGRESS_EVERY))
        if not chunk:
            break
        count += chunk.count(b"\n")
        size -= len(chunk)
    return count


class LineParser:
    """Decode, split and validate one line against a header's layout."""

    def __init__(self, header: Header, value_sets: ValueSets):
        self.columns = header.fmt.columns
        self.trailing = header.trailing
        self.expected = len(header.columns) + (1 if header.trailing else 0)
        # A header in the declared order (the national files') gives the values as split; any
        # other is put in that order, a column it lacks read from an empty value added last.
        self.reorder = None
        if header.columns != self.columns:
            where = {column: index for index, column in enumerate(header.columns)}
            self.reorder = itemgetter(*(where.get(column, -1) for column in self.columns))
        self.rule = RULES[header.fmt.name]
        self.value_sets = value_sets

    def __call__(self, number: int, raw: bytes) -> Record | Rejection:
        """A Record, or a Rejection naming the first blocking problem of the line."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"UTF-8 invalide (octet 0x{raw[exc.start]:02x} en position {exc.start + 1})"
            return Rejection(number, None, reason)
        # Spaces padding a field are dropped in one pass over the line, not field by field.
        values = text.rstrip("\r\n").replace(" |", "|").replace("| ", "|").split("|")
        if len(values) != self.expected or (self.trailing and values[-1]):
            return Rejection(number, None, self._count_reason(values))
        if self.reorder is not None:
            values.append("")
            values = self.reorder(values)
        return self._validated(number, values)

    def _count_reason(self, parts: list[str]) -> str:
        found = len(parts) - 1 if self.trailing and not parts[-1] else len(parts)
        wanted = self.expected - (1 if self.trailing else 0)
        return f"nombre de colonnes incorrect : {wanted} attendues, {found} trouvées"

    def _validated(self, number: int, values: Sequence[str]) -> Record | Rejection:
        issues = self.rule(values, self.value_sets)
        if not issues:  # most lines
            return Record(number, values, (), self.columns)
        warnings = []
        for column, finding in issues:
            if finding.blocking:
                return Rejection(number, column, finding.reason)
            warnings.append(Problem(number, column, finding.reason))
        return Record(number, values, tuple(warnings), self.columns)
