"""Read personne-activité lines a block at a time, one column at a time.

Line by line (reader.LineParser, rules.activity_issues, rows.line_piece), most of a line's cost
is the interpreter's: a call, a tuple, a lookup for each check and each value. Here a block of
lines is decoded, split and checked at once: each check runs over a whole column with the
interpreter's built-ins (set differences, map, zip, join), and each fingerprint of the block is
hashed in one pass. The few lines a check flags, and those a block cannot take (invalid UTF-8,
a wrong number of columns, blank lines), are read again one by one by the line reader, which
gives their exact rejection or warnings: what comes out is what the line reader gives, line for
line (the tests compare them on broken and awkward files).

Only a file whose header names the columns in their declared order is read this way (the
national files); any other is read line by line.
"""

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from operator import add, eq, ne

from directory.extract import rules
from directory.extract.formats import PERSONNE_ACTIVITE
from directory.extract.reader import Header, LineParser, Problem, Record, Rejection
from directory.extract.records import (
    ACTIVITY_COLUMNS,
    ID_TYPES,
    ORGANISATION_COLUMNS,
    SITES_REMEMBERED,
    Site,
    already_normal,
    fingerprint_joined,
    fingerprints_normal,
    site_of,
)
from directory.extract.rows import Piece, line_piece
from directory.extract.valuesets import ValueSets

_position = PERSONNE_ACTIVITE.position
_KIND, _NUMBER, _NATIONAL = map(
    _position, ("Type d'identifiant PP", "Identifiant PP", "Identification nationale PP")
)
_MANDATORY = tuple(map(_position, PERSONNE_ACTIVITE.mandatory))
_CODES = (
    (_position("Code civilité"), "civilites"),
    (_position("Code profession"), "professions"),
    (_position("Code savoir-faire"), "savoir_faire"),
)
_ORGANISATION = tuple(map(_position, ORGANISATION_COLUMNS))
_ACTIVITY = tuple(map(_position, ACTIVITY_COLUMNS))
_NAMES = tuple(
    map(
        _position,
        ("Code civilité", "Code civilité d'exercice", "Nom d'exercice", "Prénom d'exercice"),
    )
)
_PROFESSION = _position("Code profession")

# Where the columns a site's checks read sit among an organisation's values.
_CHECKED = tuple(map(ORGANISATION_COLUMNS.index, rules.SITE_COLUMNS))


# A site is on the line of everyone working there: built and checked once while in use (as
# records._site and rules._site_issues_once, for the same reason), keyed by its organisation's
# values joined.
@lru_cache(maxsize=SITES_REMEMBERED)
def _site_read(organisation: str) -> tuple[Site | None, str, tuple]:
    """(the site, its key or "" for none, the issues of its checked values)."""
    site = site_of(organisation)
    values = organisation.split("|")
    issues = rules.site_issues(tuple(values[index] for index in _CHECKED))
    return site, "" if site is None else site.key, issues


@dataclass
class Block:
    """What a block of lines gives: the pieces of its kept lines (rows.Piece), its rejections
    and warnings in line order, and its counts (those of reader.Stats)."""

    pieces: list[Piece] = field(default_factory=list)
    # No value of the block needs normalising before it is hashed (records.fingerprint_joined).
    normal: bool = False
    problems: list[Rejection | Problem] = field(default_factory=list)
    lines: int = 0
    records: int = 0
    rejected: int = 0
    warned: int = 0
    warnings: int = 0


class BlockParser:
    """Read blocks of personne-activité lines (ExtractReader.blocks) laid out as `header` says,
    which must be the declared order."""

    def __init__(self, header: Header, value_sets: ValueSets):
        if header.columns != PERSONNE_ACTIVITE.columns:
            raise ValueError("a block parser reads the columns in their declared order")
        self.line = LineParser(header, value_sets)
        self.width = len(header.columns) + header.trailing  # values of a line, split
        self.trailing = header.trailing
        self.codes = [(index, getattr(value_sets, name)) for index, name in _CODES]

    def __call__(self, number: int, raws: list[bytes]) -> Block:
        """The block of `raws`, the lines after line `number`."""
        try:
            text = b"".join(raws).decode("utf-8")
        except UnicodeDecodeError:
            return self._line_by_line(number, raws)
        # As LineParser does to each line: no newline at the end, no spaces padding a field.
        lines = text.replace(" |", "|").replace("| ", "|").split("\n")
        if len(lines) > len(raws):
            lines.pop()  # after the last newline
        if "\r" in text:
            lines = list(map(str.rstrip, lines, repeat("\r\n")))
        bars = list(map(str.count, lines, repeat("|")))
        wanted = self.width - 1
        if bars.count(wanted) == len(lines):
            odd, split = [], lines
        else:  # blank lines and wrong column counts: read one by one
            odd = [index for index, count in enumerate(bars) if count != wanted]
            split = [line for line, count in zip(lines, bars, strict=True) if count == wanted]
            if not split:
                return self._read_again(number, raws, odd, [], [], False)
        whole = "|".join(split)
        values = whole.split("|")
        sites, keys, issues = zip(*map(_site_read, self._organisations(values)), strict=True)
        pieces, normal = self._pieces(values, sites, keys)
        flagged = self._flagged(values, issues)
        if not odd and not flagged:
            return Block(pieces, normal, lines=len(raws), records=len(raws))
        # Each split line's index in the block (the same when every line was split).
        where = [index for index, count in enumerate(bars) if count == wanted] if odd else None
        again = sorted({*odd, *(where[i] if where else i for i in flagged)})
        return self._read_again(number, raws, again, pieces, where, normal)

    def _read_again(self, number, raws, again, pieces, where, normal) -> Block:
        """The block whose lines at indexes `again` are read by the line reader; `pieces` are
        those of the split lines (at indexes `where` of the block, or all), of which the
        rejected ones are left out."""
        block = Block()
        dropped = set()
        for index in again:
            if self._verdict(block, number + 1 + index, raws[index]) is None:
                dropped.add(index)
        alike = len(raws) - len(again)  # neither flagged nor odd: kept as they are
        block.lines += alike
        block.records += alike
        if dropped:
            indexes = where if where is not None else range(len(pieces))
            pieces = [
                piece for index, piece in zip(indexes, pieces, strict=True) if index not in dropped
            ]
        block.pieces, block.normal = pieces, normal
        return block

    def _line_by_line(self, number: int, raws: list[bytes]) -> Block:
        """The block read by the line reader alone (its bytes are not all valid UTF-8)."""
        block = Block()
        for index, raw in enumerate(raws):
            record = self._verdict(block, number + 1 + index, raw)
            if record is not None:
                block.pieces.append(line_piece(record.values))
        return block

    def _verdict(self, block: Block, number: int, raw: bytes) -> Record | None:
        """The line reader's reading of one line, counted in `block`: its record, or None for a
        blank or rejected line."""
        if not raw.strip():
            return None
        block.lines += 1
        item = self.line(number, raw)
        if isinstance(item, Rejection):
            block.rejected += 1
            block.problems.append(item)
            return None
        block.records += 1
        if item.warnings:
            block.warned += 1
            block.warnings += len(item.warnings)
            block.problems.extend(item.warnings)
        return item

    def _flagged(self, values: list[str], issues: tuple) -> set[int]:
        """Indexes of the split lines some check may find an issue in (a few more, at worst):
        those that rules.activity_issues must read."""
        width = self.width
        flagged: set[int] = set()

        def where(column: list[str], wrong) -> None:
            flagged.update(index for index, value in enumerate(column) if wrong(value))

        if self.trailing:
            last = values[width - 1 :: width]
            if any(last):
                where(last, bool)
        for position in _MANDATORY:
            column = values[position::width]
            if not all(column):
                where(column, _empty)
        kinds, numbers = values[_KIND::width], values[_NUMBER::width]
        nationals = values[_NATIONAL::width]
        bad = {pair for pair in set(zip(kinds, numbers, strict=True)) if _identity_issue(*pair)}
        if bad:
            flagged.update(
                i for i, pair in enumerate(zip(kinds, numbers, strict=True)) if pair in bad
            )
        expected = list(map(add, kinds, numbers))
        if not all(map(eq, nationals, expected)):
            where(list(map(ne, nationals, expected)), bool)
        for position, known in self.codes:
            column = values[position::width]
            unknown = set(column).difference(known)
            unknown.discard("")
            if unknown:
                where(column, unknown.__contains__)
        if any(issues):
            where(issues, bool)
        return flagged

    def _organisations(self, values: list[str]) -> list[str]:
        """The organisation's values of each split line, joined (records.site_of)."""
        columns = (values[position :: self.width] for position in _ORGANISATION)
        return list(map("|".join, zip(*columns, strict=True)))

    def _pieces(self, values: list[str], sites: tuple, keys: tuple) -> tuple[list[Piece], bool]:
        """rows.line_piece of every split line, a column at a time (with their sites and their
        keys), and whether none of the values they hash needs normalising first
        (records.fingerprint_joined)."""
        width = self.width
        columns = (values[position::width] for position in _ACTIVITY)
        activities = list(map("|".join, zip(*columns, keys, strict=True)))
        kinds = values[_KIND::width]
        names = (values[position::width] for position in _NAMES)
        identities = list(
            map(
                "|".join,
                zip(map(ID_TYPES.get, kinds, kinds), values[_NUMBER::width], *names, strict=True),
            )
        )
        # Checked as a whole: a value is normal wherever "|" joins it to others.
        normal = already_normal("|".join(activities)) and already_normal("|".join(identities))
        prints = (
            fingerprints_normal(activities) if normal else list(map(fingerprint_joined, activities))
        )
        texts = list(map("|".join, zip(activities, prints, strict=True)))
        nationals = values[_NATIONAL::width]
        professions = values[_PROFESSION::width]
        pieces = zip(nationals, identities, professions, texts, prints, sites, strict=True)
        return list(pieces), normal


def _empty(value: str) -> bool:
    return not value


def _identity_issue(kind: str, number: str) -> bool:
    return rules.person_identifier(kind, number, "") is not None
