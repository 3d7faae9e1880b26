"""Streaming reader: exact counts, rejections, zip input, invalid UTF-8, progress, headers."""

import zipfile

import pytest
from directory.extract import (
    MSSANTE,
    PERSONNE_ACTIVITE,
    ExtractError,
    ExtractReader,
    Record,
    Rejection,
    generate,
)
from directory.extract.formats import PERSONNE_ACTIVITE_COLUMNS

BROKEN = {
    5: "column-count",
    17: "bad-rpps",
    42: "invalid-utf8",
    99: "empty-name",
    150: "rpps-key",
}


@pytest.fixture(scope="module")
def regional_extract(tmp_path_factory):
    """The extract a GCS admin would import: 300 lines, five of them deliberately spoiled."""
    folder = tmp_path_factory.mktemp("extract")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 300, seed=7, broken=BROKEN)


def read_all(path, **options):
    reader = ExtractReader(path, **options)
    items = list(reader)
    return reader, items


def raw_line(path, number):
    with open(path, "rb") as stream:
        for index, raw in enumerate(stream, start=1):
            if index == number:
                return raw
    raise AssertionError(f"no line {number}")


def test_it_counts_records_rejections_and_warnings_exactly(regional_extract):
    reader, _ = read_all(regional_extract.path)

    assert reader.stats.lines == 300
    assert reader.stats.rejected == 4
    assert reader.stats.records == 296
    # One wrong RPPS check key; pharmacists' lines are as valid as the others.
    assert regional_extract.lines_by_profession["21"] > 0
    assert reader.stats.warned == 1


def test_it_names_line_column_and_reason_of_each_rejection(regional_extract):
    _, items = read_all(regional_extract.path)

    rejections = [item for item in items if isinstance(item, Rejection)]
    utf8_at = raw_line(regional_extract.path, 42).index(b"\xe8") + 1
    assert rejections == [
        Rejection(5, None, "nombre de colonnes incorrect : 56 attendues, 54 trouvées"),
        Rejection(17, "Identifiant PP", "RPPS mal formé : 11 chiffres attendus"),
        Rejection(42, None, f"UTF-8 invalide (octet 0xe8 en position {utf8_at})"),
        Rejection(99, "Nom d'exercice", "champ obligatoire vide"),
    ]


def test_it_keeps_a_line_whose_rpps_key_is_wrong_with_a_warning(regional_extract):
    _, items = read_all(regional_extract.path)

    line = next(item for item in items if item.line == 150)
    assert isinstance(line, Record)
    assert [(w.column, w.reason) for w in line.warnings] == [
        ("Identifiant PP", "clé de contrôle RPPS incorrecte")
    ]


def test_it_reads_the_same_lines_from_the_zip_of_the_extract(regional_extract, tmp_path):
    archive = tmp_path / "PS_LibreAcces.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(regional_extract.path, "PS_LibreAcces_Personne_activite_202611290000.txt")

    plain_reader, plain = read_all(regional_extract.path)
    zip_reader, zipped_items = read_all(archive)

    assert zipped_items == plain
    assert zip_reader.stats == plain_reader.stats


def test_it_refuses_a_zip_without_exactly_one_text_file(tmp_path):
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.pdf", b"%PDF")

    with pytest.raises(ExtractError, match="exactement un fichier"):
        list(ExtractReader(archive))


def test_it_reports_invalid_utf8_for_that_line_only(tmp_path):
    header = "|".join(PERSONNE_ACTIVITE_COLUMNS) + "|\n"
    good = gp_line("10001045367", "Guignard")
    path = tmp_path / "extract.txt"
    path.write_bytes(
        header.encode()
        + good.encode()
        + good.replace("Guignard", "Gu\udce9").encode("utf-8", "surrogateescape")
        + good.encode()
    )

    reader, items = read_all(path)

    assert [type(item).__name__ for item in items] == ["Record", "Rejection", "Record"]
    assert items[1] == Rejection(3, None, "UTF-8 invalide (octet 0xe9 en position 35)")
    assert reader.stats.records == 2


def gp_line(rpps: str, family: str, profession: str = "10", savoir_faire: str = "SM54") -> str:
    """A well-formed activity line of a general practitioner (or another profession) in Rennes."""
    values = dict.fromkeys(PERSONNE_ACTIVITE_COLUMNS, "")
    values.update(
        {
            "Type d'identifiant PP": "8",
            "Identifiant PP": rpps,
            "Identification nationale PP": "8" + rpps,
            "Code civilité": "M",
            "Nom d'exercice": family,
            "Prénom d'exercice": "Éric",
            "Code profession": profession,
            "Code savoir-faire": savoir_faire,
            "Numéro SIRET site": "85131528300016",
            "Code postal (coord. structure)": "35000",
            "Code commune (coord. structure)": "35238",
        }
    )
    return "|".join(values.values()) + "|\n"


def read_one_line(tmp_path, line: str):
    """The reader and the one item of an extract holding `line` under the current header."""
    path = tmp_path / "one.txt"
    path.write_text("|".join(PERSONNE_ACTIVITE_COLUMNS) + "|\n" + line, encoding="utf-8")
    reader, [item] = read_all(path)
    return reader, item


@pytest.mark.parametrize("profession", ["10", "21", "40", "50", "60", "86"])
def test_it_knows_every_health_profession_of_the_national_extract(tmp_path, profession):
    line = gp_line("10001045367", "Guignard", profession, savoir_faire="")

    reader, item = read_one_line(tmp_path, line)

    assert item.fields["Code profession"] == profession
    assert (reader.stats.records, reader.stats.warned) == (1, 0)


def test_it_warns_on_a_profession_code_of_no_value_set(tmp_path):
    line = gp_line("10001045367", "Guignard", "99", savoir_faire="")

    reader, item = read_one_line(tmp_path, line)

    assert (reader.stats.records, reader.stats.warned) == (1, 1)
    assert "code profession inconnu du jeu de valeurs : 99" in [w.reason for w in item.warnings]


def test_it_reports_progress_up_to_the_total_size(regional_extract):
    seen = []
    reader = ExtractReader(
        regional_extract.path, on_progress=lambda done, total: seen.append((done, total))
    )
    list(reader)

    size = regional_extract.path.stat().st_size
    assert seen[-1] == (size, size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_it_accepts_the_older_layout_that_lacks_the_last_columns(tmp_path):
    older = PERSONNE_ACTIVITE_COLUMNS[:52]
    line = gp_line("10001045367", "Guignard").split("|")[:52]
    path = tmp_path / "older.txt"
    path.write_text("|".join(older) + "|\n" + "|".join(line) + "|\n", encoding="utf-8")

    _, items = read_all(path)

    assert items[0].fields["Nom d'exercice"] == "Guignard"
    assert items[0].fields["Libellé genre activité"] == ""


def test_it_detects_the_format_from_the_header(regional_extract):
    activity = ExtractReader(regional_extract.path)
    mailbox = ExtractReader(regional_extract.mssante_path)
    next(iter(activity))
    next(iter(mailbox))

    assert activity.fmt is PERSONNE_ACTIVITE
    assert mailbox.fmt is MSSANTE


def test_it_refuses_a_header_with_an_unknown_column(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_text("Type d'identifiant PP|Identifiant PP|Pointure|\n", encoding="utf-8")

    with pytest.raises(ExtractError, match="colonne inconnue dans l'en-tête : Pointure"):
        list(ExtractReader(path))


def test_it_reads_every_generated_mailbox(regional_extract):
    reader, items = read_all(regional_extract.mssante_path)

    kinds = {item.fields["Type de BAL"] for item in items}
    assert reader.stats.records == regional_extract.mailboxes
    assert reader.stats.rejected == 0
    assert kinds == {"PER", "ORG", "APP", "CAB"}


def test_it_rejects_a_mailbox_of_unknown_type_or_bad_address(tmp_path):
    from directory.extract.formats import MSSANTE_COLUMNS

    blank = [""] * (len(MSSANTE_COLUMNS) - 2)
    lines = [
        "|".join(["ORG", "neurologie@ch-rennes.mssante.fr", *blank]),
        "|".join(["XYZ", "neurologie@ch-rennes.mssante.fr", *blank]),
        "|".join(["ORG", "neurologie.ch-rennes.mssante.fr", *blank]),
    ]
    path = tmp_path / "mss.txt"
    path.write_text("|".join(MSSANTE_COLUMNS) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")

    _, items = read_all(path)

    assert isinstance(items[0], Record)
    assert items[1] == Rejection(
        3, "Type de BAL", "type de BAL inconnu : XYZ (PER, ORG, APP ou CAB)"
    )
    assert items[2] == Rejection(4, "Adresse BAL", "adresse BAL mal formée")


def test_it_accepts_the_descriptive_spelling_of_mailbox_columns(tmp_path):
    from directory.extract.formats import MSSANTE_ALIASES, MSSANTE_COLUMNS

    descriptive = dict((column, alias) for alias, column in MSSANTE_ALIASES)
    header = [descriptive.get(column, column) for column in MSSANTE_COLUMNS]
    line = ["ORG", "urgences@ch-vannes.mssante.fr", *[""] * 26, "56000", "56", "France"]
    path = tmp_path / "mss.txt"
    path.write_text("|".join(header) + "\n" + "|".join(line) + "\n", encoding="utf-8")

    _, items = read_all(path)

    assert items[0].fields["Code postal"] == "56000"
    assert items[0].fields["L6LIGNEACHEMINEMENT"] == ""


def test_it_counts_afresh_when_read_a_second_time(regional_extract):
    reader = ExtractReader(regional_extract.path)
    first = list(reader)
    counts = reader.stats
    second = list(reader)

    assert second == first
    assert reader.stats == counts


def test_it_reads_a_file_saved_with_a_bom_and_windows_line_ends(tmp_path):
    header = "|".join(PERSONNE_ACTIVITE_COLUMNS) + "|"
    line = gp_line("10001045367", "Guignard").rstrip("\n")
    path = tmp_path / "windows.txt"
    path.write_bytes(("\ufeff" + header + "\r\n" + line + "\r\n").encode("utf-8"))

    reader, items = read_all(path)

    assert reader.stats.records == 1
    assert items[0].fields["Libellé genre activité"] == ""
    assert items[0].fields["Type d'identifiant PP"] == "8"


def described(item):
    if isinstance(item, Rejection):
        return ("rejected", item.line, item.column, item.reason)
    return ("kept", item.line, tuple(item.fields.values()), item.warnings)


@pytest.mark.parametrize("count", [2, 3, 7])
def test_parts_of_a_file_hold_each_line_once_with_its_true_number(regional_extract, count):
    whole, items = read_all(regional_extract.path)
    parts = [ExtractReader(regional_extract.path, part=(index, count)) for index in range(count)]

    read_by_parts = [described(item) for reader in parts for item in reader]

    assert read_by_parts == [described(item) for item in items]
    assert all(list(map(described, reader)) for reader in parts)  # no part left empty
    assert sum(reader.stats.bytes_read for reader in parts) == whole.stats.bytes_read
    assert sum(reader.stats.rejected for reader in parts) == whole.stats.rejected


def test_a_part_starting_exactly_on_a_line_keeps_that_line(tmp_path):
    header = "|".join(PERSONNE_ACTIVITE_COLUMNS).encode() + b"|\n"
    line = b"|".join([b"x"] * len(PERSONNE_ACTIVITE_COLUMNS)) + b"|\n"
    # Two lines after the header: the middle of the body is where the second line starts.
    path = tmp_path / "two.txt"
    path.write_bytes(header + line + line)

    first, second = (list(ExtractReader(path, part=(index, 2))) for index in (0, 1))

    assert [item.line for item in first] == [2]
    assert [item.line for item in second] == [3]


def test_a_zip_is_read_in_parts_like_its_text(regional_extract, tmp_path):
    archive = tmp_path / "extract.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(regional_extract.path, "PS_LibreAcces_Personne_activite.txt")

    for index in range(3):
        plain = ExtractReader(regional_extract.path, part=(index, 3))
        zipped_part = ExtractReader(archive, part=(index, 3))
        assert list(map(described, zipped_part)) == list(map(described, plain))
        assert zipped_part.stats == plain.stats
