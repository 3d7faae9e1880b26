"""Reading a block of lines at a time gives what reading them one by one gives, line for line."""

import unicodedata

import pytest
from directory.extract import ExtractReader, generate
from directory.extract import batches as extract_batches
from directory.extract.formats import PERSONNE_ACTIVITE, PERSONNE_ACTIVITE_COLUMNS

BROKEN = {5: "column-count", 9: "bad-rpps", 14: "invalid-utf8", 20: "empty-name", 31: "rpps-key"}


def column(name: str) -> int:
    return PERSONNE_ACTIVITE_COLUMNS.index(name)


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    """600 lines, some of them broken."""
    folder = tmp_path_factory.mktemp("blocks")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 600, seed=5, broken=BROKEN)


def read(path, how: str, batch_size: int):
    """Everything read, batch after batch: rows, organisations, problems, and the counts."""
    reader = ExtractReader(str(path), PERSONNE_ACTIVITE)
    if how == "block":
        batches = list(extract_batches._by_block(reader, batch_size))
    else:
        batches = list(extract_batches._by_line(reader, "ps", batch_size))
    return (
        [row for batch in batches for row in batch.rows],
        [row for batch in batches for row in batch.organisations],
        [problem for batch in batches for problem in batch.problems],
        vars(batches[-1].stats),
    ), batches


def awkward(extract, path):
    """The extract, spoiled in every way a block cannot take as it is, or a check must flag."""
    header, *lines = extract.path.read_bytes().split(b"\n")
    lines = [line.decode("utf-8", "surrogateescape").split("|") for line in lines if line]

    def spoil(number: int, name: str, value: str) -> None:
        lines[number][column(name)] = value

    spoil(40, "Nom d'exercice", unicodedata.normalize("NFD", "Lefèvre"))  # hashed normalised
    spoil(41, "Prénom d'exercice", "Jean\u00a0Marc")  # not printable: normalised
    spoil(42, "Raison sociale site", "Cabinet\tdu Parc")
    spoil(43, "Code profession", "99999")  # unknown: a warning
    spoil(44, "Code savoir-faire", "ZZ42")
    spoil(45, "Identification nationale PP", "899999999999")  # not type + number: rejected
    spoil(46, "Numéro SIRET site", "12345678901234")  # a wrong key: a warning
    spoil(47, "Numéro FINESS site", "12345")  # malformed: rejected
    spoil(48, "Code postal (coord. structure)", "7500")
    spoil(49, "Type d'identifiant PP", "5")
    spoil(50, "Libellé genre activité", "x")  # trailing column: "x|" reads as 57 values
    lines[50][-1] = "trop"
    spoil(51, "Code civilité", "ZZ")
    spoil(52, "Nom d'exercice", "")
    spoil(53, "Nom d'exercice", " Le  Gall ")  # spaces padding and doubled
    texts = ["|".join(values) for values in lines]
    texts[60] = texts[60].replace("|", " | ", 3)  # padded fields
    texts[61] = ""  # blank lines count in the numbering only
    texts[62] = "   \t"
    texts[63] += "\r"  # a line ending with CRLF
    texts[70] = texts[69]  # a professional's line twice
    texts[71] = texts[30]  # a professional's lines apart
    body = "\n".join(texts).encode("utf-8", "surrogateescape")
    path.write_bytes(header + b"\n" + body + b"\n")
    return path


@pytest.mark.parametrize("batch_size", [1, 7, 50, 2000])
def test_blocks_give_what_lines_give(extract, batch_size):
    by_block, batches = read(extract.path, "block", batch_size)
    by_line, _ = read(extract.path, "line", batch_size)

    assert by_block == by_line
    assert by_block[3]["rejected"] == 4 and by_block[3]["warned"] >= 1
    assert len(batches) > 1 if batch_size < 2000 else len(batches) == 1


@pytest.mark.parametrize("batch_size", [3, 50, 2000])
def test_blocks_give_what_lines_give_on_awkward_lines(extract, tmp_path, batch_size):
    path = awkward(extract, tmp_path / "awkward.txt")

    by_block, _ = read(path, "block", batch_size)
    by_line, _ = read(path, "line", batch_size)

    assert by_block == by_line
    _rows, _organisations, problems, stats = by_block
    lines = {problem["line"] for problem in problems}
    assert {index + 2 for index in range(43, 53)} <= lines  # the header is line 1
    assert stats["lines"] == 600 - 2  # the two blank lines


def test_a_block_that_is_not_utf8_is_read_line_by_line(extract, tmp_path):
    path = tmp_path / "latin.txt"
    header, *lines = extract.path.read_bytes().split(b"\n")
    lines[10] = lines[10].replace(b"|", "|é".encode("latin-1"), 1)
    path.write_bytes(b"\n".join([header, *lines]))

    by_block, _ = read(path, "block", 50)

    assert by_block == read(path, "line", 50)[0]
    reasons = [problem["reason"] for problem in by_block[2] if problem["line"] == 12]
    assert len(reasons) == 1 and reasons[0].startswith("UTF-8 invalide")


def test_a_header_in_another_order_is_read_line_by_line(extract, tmp_path):
    header, *lines = extract.path.read_bytes().decode("utf-8", "surrogateescape").split("\n")
    first, second = column("Nom d'exercice"), column("Prénom d'exercice")

    def swapped(text: str) -> str:
        values = text.split("|")
        if len(values) > second:
            values[first], values[second] = values[second], values[first]
        return "|".join(values)

    path = tmp_path / "swapped.txt"
    text = "\n".join(swapped(line) for line in [header, *lines])
    path.write_bytes(text.encode("utf-8", "surrogateescape"))

    assert not extract_batches._in_declared_order(str(path))
    assert extract_batches._in_declared_order(str(extract.path))
    assert [*extract_batches.read(str(path), "ps", 50)][-1].stats.records > 500
    same = [row for batch in extract_batches.read(str(path), "ps", 50) for row in batch.rows]
    assert same == read(extract.path, "line", 50)[0][0]


def test_lines_ending_with_crlf_are_read_a_block_at_a_time(extract, tmp_path, monkeypatch):
    path = tmp_path / "crlf.txt"
    path.write_bytes(extract.path.read_bytes().replace(b"\n", b"\r\n"))
    by_line, _ = read(path, "line", 50)
    again = []
    original = extract_batches.BlockParser._read_again

    def counted(self, number, raws, indexes, *rest):
        again.extend(number + 1 + index for index in indexes)
        return original(self, number, raws, indexes, *rest)

    monkeypatch.setattr(extract_batches.BlockParser, "_read_again", counted)

    by_block, _ = read(path, "block", 50)

    assert by_block == by_line
    # Only broken lines are read one by one (those of the block that is not UTF-8, all of them).
    assert again and set(again) <= set(BROKEN)
