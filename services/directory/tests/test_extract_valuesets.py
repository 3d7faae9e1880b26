"""Official value sets: loaded from the NOS files, from the package or from a given folder."""

import shutil
from pathlib import Path

import pytest
from directory.extract.valuesets import DATA_DIR, load_value_sets, read_value_set

FROM_SHARED_DATA = (
    "JDV_J107_EnsembleSavoirFaire_RASS.xml",
    "JDV_ProfessionPersonnelActivite_CISIS.xml",
    "JDV_J245_Civilite_CISIS.xml",
    "JDV_J100_FinessStatutJuridique_RASS.xml",
)
# The G15 professions of JDV_J01, which the shared data folder does not hold.
SHIPPED = (*FROM_SHARED_DATA, "JDV_J01_XdsAuthorSpecialty_CISIS_G15.xml")


def test_it_loads_the_savoir_faire_the_platform_relies_on():
    sets = load_value_sets()

    assert sets.savoir_faire["SM54"] == "Médecine générale (SM)"
    assert sets.savoir_faire["SM32"] == "Neurologie (SM)"
    assert sets.savoir_faire["SM36"] == "Oncologie, option médicale (SM)"
    assert sets.savoir_faire["SM37"] == "Oncologie, option radiothérapie (SM)"
    assert sets.savoir_faire["SM14"] == "Chirurgie viscérale et digestive (SM)"


def test_it_keys_professions_the_way_the_extract_writes_them():
    professions = load_value_sets().professions

    assert professions["10"] == "Médecin"
    assert professions["60"] == "Infirmier"
    assert professions["21"] == "Pharmacien"
    assert professions["40"] == "Chirurgien-Dentiste"
    assert professions["50"] == "Sage-Femme"
    assert professions["93"] == "Psychologue"  # from the activity value set only
    assert not [code for code in professions if code.startswith("G15") or "/" in code]


def test_it_loads_civilites_and_legal_statuses():
    sets = load_value_sets()

    assert sets.civilites == {"M": "Monsieur", "MME": "Madame"}
    assert sets.statuts_juridiques["01"] == "Etat"


def test_it_loads_value_sets_from_any_folder(tmp_path):
    for name in SHIPPED:
        shutil.copy(DATA_DIR / name, tmp_path / name)

    assert load_value_sets(tmp_path) == load_value_sets()


def test_it_reads_every_concept_of_a_file():
    concepts = read_value_set(DATA_DIR / "JDV_J107_EnsembleSavoirFaire_RASS.xml")

    assert len(concepts) == 265
    assert next(iter(concepts)) == "SI01"


def test_it_ships_the_same_files_as_the_shared_data_folder():
    shared = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nos"
    if not shared.is_dir():
        pytest.skip("the shared data folder is not beside the repository")

    for name in FROM_SHARED_DATA:
        assert (DATA_DIR / name).read_bytes() == (shared / name).read_bytes(), name
