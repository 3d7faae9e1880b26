"""The migrations build exactly the models' tables; search keys fold names the way users type."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from directory.models import Base, search_key
from servicekit import db
from servicekit.migrations import is_current
from servicekit.models import KitBase


def test_it_migrates_to_exactly_the_tables_the_models_declare(app):
    engine = db.database(app).engine
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = [
            diff
            for metadata in (Base.metadata, KitBase.metadata)
            for diff in compare_metadata(context, metadata)
            if not _other_metadata(diff, metadata)
        ]
    assert is_current(app)
    assert differences == []


def _other_metadata(diff, metadata):
    # compare_metadata with one of the two metadatas sees the other's tables as extra.
    return diff[0] == "remove_table" or (
        diff[0] == "remove_index" and diff[1].table.name not in metadata.tables
    )


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Lefèvre", "lefevre"),
        ("Jean-François", "jean francois"),
        ("D'ARTAGNAN", "d artagnan"),
        ("  Œillet   Gaëlle ", "oeillet gaelle"),
        ("Müller-Lüdenscheidt", "muller ludenscheidt"),
        ("", ""),
    ],
)
def test_it_folds_case_accents_hyphens_and_apostrophes_in_search_keys(name, key):
    assert search_key(name) == key
