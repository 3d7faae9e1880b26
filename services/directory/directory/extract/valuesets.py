"""Official NOS value sets (IHE SVS XML) that the extract's codes are checked against."""

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

SAVOIR_FAIRE_FILE = "JDV_J107_EnsembleSavoirFaire_RASS.xml"
PROFESSION_FILE = "JDV_ProfessionPersonnelActivite_CISIS.xml"
# JDV_ProfessionPersonnelActivite lists seven of the G15 health professions: pharmacists,
# dentists, midwives and the others the national extract carries come from JDV_J01's G15
# concepts (its professions, without their specialties).
G15_PROFESSION_FILE = "JDV_J01_XdsAuthorSpecialty_CISIS_G15.xml"
CIVILITE_FILE = "JDV_J245_Civilite_CISIS.xml"
STATUT_JURIDIQUE_FILE = "JDV_J100_FinessStatutJuridique_RASS.xml"

_SVS = "{urn:ihe:iti:svs:2008}"
# The value set names professions by their G15 code ("G15_10"); the extract uses the bare number.
_G15_PREFIX = "G15_"


@dataclass(frozen=True)
class ValueSets:
    """Code -> display name for each value set the extract layer checks."""

    professions: dict[str, str]
    savoir_faire: dict[str, str]
    civilites: dict[str, str]
    statuts_juridiques: dict[str, str]


def read_value_set(path: Path) -> dict[str, str]:
    """Every concept of one SVS file as code -> displayName, in file order."""
    concepts = {}
    # Trusted input: files shipped with the package or put in place by the operator.
    for _, element in ET.iterparse(path):  # noqa: S314
        if element.tag == f"{_SVS}Concept":
            concepts[element.get("code")] = element.get("displayName", "")
    return concepts


def profession_codes(concepts: dict[str, str]) -> dict[str, str]:
    """The profession value set keyed the way the extract writes `Code profession`."""
    return {code.removeprefix(_G15_PREFIX): label for code, label in concepts.items()}


def load_value_sets(directory: Path | str = DATA_DIR) -> ValueSets:
    """Load the four value sets from a folder holding the official NOS files (professions from
    two of them)."""
    folder = Path(directory)
    return ValueSets(
        professions=profession_codes(
            {
                **read_value_set(folder / PROFESSION_FILE),
                **read_value_set(folder / G15_PROFESSION_FILE),
            }
        ),
        savoir_faire=read_value_set(folder / SAVOIR_FAIRE_FILE),
        civilites=read_value_set(folder / CIVILITE_FILE),
        statuts_juridiques=read_value_set(folder / STATUT_JURIDIQUE_FILE),
    )


@lru_cache(maxsize=1)
def packaged_value_sets() -> ValueSets:
    """The value sets shipped with the package, parsed once per process."""
    return load_value_sets(DATA_DIR)
