"""Read the national directory extracts: formats, streaming reader, domain records, generator."""

from directory.extract.benchmark import measure
from directory.extract.formats import FORMATS, MSSANTE, PERSONNE_ACTIVITE, ExtractFormat
from directory.extract.reader import (
    ExtractError,
    ExtractReader,
    Problem,
    Record,
    Rejection,
    Stats,
)
from directory.extract.records import (
    Activity,
    Mailbox,
    Organisation,
    Professional,
    RecentOrganisations,
    mailboxes,
    professionals,
)
from directory.extract.synthetic import GeneratedExtract, generate
from directory.extract.valuesets import ValueSets, load_value_sets

__all__ = [
    "FORMATS",
    "MSSANTE",
    "PERSONNE_ACTIVITE",
    "Activity",
    "ExtractError",
    "ExtractFormat",
    "ExtractReader",
    "GeneratedExtract",
    "Mailbox",
    "Organisation",
    "Problem",
    "Professional",
    "RecentOrganisations",
    "Record",
    "Rejection",
    "Stats",
    "ValueSets",
    "generate",
    "load_value_sets",
    "mailboxes",
    "measure",
    "professionals",
]
