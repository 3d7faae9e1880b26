"""The migrations build exactly the tables identity's models declare, indexes included."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from identity.models import Base
from servicekit import db
from servicekit.migrations import is_current
from servicekit.models import KitBase


def test_it_migrates_to_exactly_the_tables_the_models_declare(app):
    import identity.oauth.models  # noqa: F401 - the provider's tables share identity's Base

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
