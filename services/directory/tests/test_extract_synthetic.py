"""Synthetic extracts: deterministic, realistic, with valid keys and chosen broken lines."""

import pytest
from directory.extract import ExtractReader, Record, generate, load_value_sets, measure
from directory.extract.samples import COMMUNES
from stdnum import luhn


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """A 2,000-line snapshot of the region's professionals."""
    folder = tmp_path_factory.mktemp("region")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 2000, seed=3)


@pytest.fixture(scope="module")
def region_lines(region):
    return [item.fields for item in ExtractReader(region.path) if isinstance(item, Record)]


def test_it_writes_the_same_bytes_for_the_same_seed(region, tmp_path):
    again = generate(tmp_path / "again.txt", 2000, seed=3)

    assert again.path.read_bytes() == region.path.read_bytes()
    assert again.mssante_path.read_bytes() == region.mssante_path.read_bytes()


def test_it_writes_different_extracts_for_different_seeds(region, tmp_path):
    other = generate(tmp_path / "other.txt", 2000, seed=4)

    assert other.path.read_bytes() != region.path.read_bytes()


def test_it_writes_exactly_the_lines_asked_for(region):
    with open(region.path, "rb") as stream:
        assert sum(1 for _ in stream) == 2001
    assert region.lines == 2000
    assert sum(region.lines_by_profession.values()) == 2000


def test_it_gives_every_rpps_a_valid_luhn_key_in_the_test_range(region_lines):
    rpps = {f["Identifiant PP"] for f in region_lines if f["Type d'identifiant PP"] == "8"}

    assert rpps
    assert all(len(n) == 11 and n.startswith("1") and luhn.is_valid(n) for n in rpps)


def test_it_uses_official_codes_and_labels_for_specialties(region_lines):
    savoir_faire = load_value_sets().savoir_faire
    used = {f["Code savoir-faire"]: f["Libellé savoir-faire"] for f in region_lines}
    used.pop("", None)

    assert {"SM54", "SM32", "SM36", "SM37", "SM14"} <= set(used)
    assert all(savoir_faire[code].startswith(label) for code, label in used.items())


def test_it_draws_the_professions_of_the_region_with_their_official_labels(region_lines):
    professions = load_value_sets().professions
    used = {f["Code profession"]: f["Libellé profession"] for f in region_lines}

    assert set(used) == {"10", "21", "40", "50", "60", "70", "91"}
    assert all(professions[code] == label for code, label in used.items())
    midwives = [f for f in region_lines if f["Code profession"] == "50"]
    assert midwives and not any(f["Code civilité d'exercice"] for f in midwives)


def test_it_places_organisations_in_real_communes(region_lines):
    real = {(insee, postcode, name) for insee, postcode, name in COMMUNES}
    places = {
        (
            f["Code commune (coord. structure)"],
            f["Code postal (coord. structure)"],
            f["Libellé commune (coord. structure)"],
        )
        for f in region_lines
    }

    assert places <= real


def test_it_writes_french_names_with_accents_and_hyphens(region_lines):
    names = {f["Nom d'exercice"] for f in region_lines} | {
        f["Prénom d'exercice"] for f in region_lines
    }

    assert any("-" in name for name in names)
    assert any(not name.isascii() for name in names)
    assert any(" " in name for name in names)


def test_it_gives_professionals_several_activities(region):
    assert region.professionals < region.lines


def test_it_refuses_an_unknown_breakage(tmp_path):
    with pytest.raises(ValueError, match="unknown breakage"):
        generate(tmp_path / "x.txt", 10, broken={3: "coffee-stain"})


def test_it_measures_parse_throughput_and_memory():
    figures = measure(500)

    assert figures["lines"] == 500
    assert figures["rejected"] == 0
    assert figures["parse_lines_per_second"] > 0
    assert figures["peak_rss_mb"] > 0
