"""The two national open-data extracts, declared as column lists spelled as the files spell them."""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from operator import itemgetter

PERSONNE_ACTIVITE_COLUMNS = (
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Code civilité d'exercice",
    "Libellé civilité d'exercice",
    "Code civilité",
    "Libellé civilité",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Code profession",
    "Libellé profession",
    "Code catégorie professionnelle",
    "Libellé catégorie professionnelle",
    "Code type savoir-faire",
    "Libellé type savoir-faire",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Code mode exercice",
    "Libellé mode exercice",
    "Numéro SIRET site",
    "Numéro SIREN site",
    "Numéro FINESS site",
    "Numéro FINESS établissement juridique",
    "Identifiant technique de la structure",
    "Raison sociale site",
    "Enseigne commerciale site",
    "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)",
    "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)",
    "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)",
    "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)",
    "Bureau cedex (coord. structure)",
    "Code postal (coord. structure)",
    "Code commune (coord. structure)",
    "Libellé commune (coord. structure)",
    "Code pays (coord. structure)",
    "Libellé pays (coord. structure)",
    "Téléphone (coord. structure)",
    "Téléphone 2 (coord. structure)",
    "Télécopie (coord. structure)",
    "Adresse e-mail (coord. structure)",
    "Code Département (structure)",
    "Libellé Département (structure)",
    "Ancien identifiant de la structure",
    "Autorité d'enregistrement",
    "Code secteur d'activité",
    "Libellé secteur d'activité",
    "Code section tableau pharmaciens",
    "Libellé section tableau pharmaciens",
    "Code rôle",
    "Libellé rôle",
    "Code genre activité",
    "Libellé genre activité",
)

# Column names as the header of the ANS file spells them (31 columns), taken from a published
# field-by-field description of the extract: the address columns keep their technical names
# (L2..L6). Descriptive spellings of the same columns are accepted as aliases below.
MSSANTE_COLUMNS = (
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION",
    "L3COMPLEMENTDISTRIBUTION",
    "L4NUMEROVOIE",
    "L4COMPLEMENTNUMEROVOIE",
    "NL4TYPEVOIE",
    "L4LIBELLEVOIE",
    "L5LIEUDITMENTION",
    "L6LIGNEACHEMINEMENT",
    "Code postal",
    "Département",
    "Pays",
)


MSSANTE_ALIASES = (
    ("Catégorie professionnelle", "Catégorie profession"),
    ("Libellé catégorie professionnelle", "Libellé de catégorie profession"),
    ("Complément localisation structure BAL", "L2COMPLEMENTLOCALISATION"),
    ("Complément distribution structure BAL", "L3COMPLEMENTDISTRIBUTION"),
    ("Numéro de voie structure BAL", "L4NUMEROVOIE"),
    ("Complément numéro de voie structure BAL", "L4COMPLEMENTNUMEROVOIE"),
    ("Type de voie structure BAL", "NL4TYPEVOIE"),
    ("Libellé de voie structure BAL", "L4LIBELLEVOIE"),
    ("Lieu-dit structure BAL", "L5LIEUDITMENTION"),
    ("Ligne d'acheminement structure BAL", "L6LIGNEACHEMINEMENT"),
    ("Code postal structure BAL", "Code postal"),
    ("Département structure BAL", "Département"),
    ("Pays structure BAL", "Pays"),
)


@dataclass(frozen=True)
class ExtractFormat:
    """A `|`-separated extract: its name, its columns in order and those a line cannot lack."""

    name: str
    columns: tuple[str, ...]
    mandatory: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    def canonical(self, header_name: str) -> str | None:
        """The declared column a header cell names, ignoring case, accents and spacing."""
        return _canonical_index(self).get(header_key(header_name))

    def position(self, column: str) -> int:
        """Where a declared column's value sits in a line's values (see reader.Record)."""
        return _positions(self.columns)[column]

    def getter(self, *columns: str) -> Callable:
        """A getter of these columns' values from a line's values: one value for one column,
        a tuple of values for several (operator.itemgetter, as fast as a getter gets)."""
        return itemgetter(*map(self.position, columns))


PERSONNE_ACTIVITE = ExtractFormat(
    name="PS_LibreAcces_Personne_activite",
    columns=PERSONNE_ACTIVITE_COLUMNS,
    mandatory=(
        "Type d'identifiant PP",
        "Identifiant PP",
        "Identification nationale PP",
        "Nom d'exercice",
    ),
)

MSSANTE = ExtractFormat(
    name="Extraction_Correspondance_MSSante",
    columns=MSSANTE_COLUMNS,
    mandatory=("Type de BAL", "Adresse BAL"),
    aliases=MSSANTE_ALIASES,
)

FORMATS = (PERSONNE_ACTIVITE, MSSANTE)

_SPACES = re.compile(r"\s+")
_INDEXES: dict[str, dict[str, str]] = {}


def header_key(name: str) -> str:
    """Fold a header cell so that 'Type Identifiant PP' and "Type d'identifiant PP" compare."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", plain.replace("d'", "").replace("’", "'"))


@cache
def _positions(columns: tuple[str, ...]) -> dict[str, int]:
    return {column: index for index, column in enumerate(columns)}


def _canonical_index(fmt: ExtractFormat) -> dict[str, str]:
    if fmt.name not in _INDEXES:
        index = {header_key(alias): column for alias, column in fmt.aliases}
        index.update({header_key(column): column for column in fmt.columns})
        _INDEXES[fmt.name] = index
    return _INDEXES[fmt.name]


def detect(header_cells: list[str]) -> ExtractFormat | None:
    """The format whose first column the header starts with, if any."""
    first = header_key(header_cells[0]) if header_cells else ""
    for fmt in FORMATS:
        if header_key(fmt.columns[0]) == first:
            return fmt
    return None
