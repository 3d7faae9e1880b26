"""The migrations build exactly the tables identity's models declare, indexes included."""

from identity.models import Base
from servicekit.migrations import differences, is_current


def test_it_migrates_to_exactly_the_tables_the_models_declare(app):
    import identity.oauth.models  # noqa: F401 - the provider's tables share identity's Base

    assert is_current(app)
    assert differences(app, Base.metadata) == []


def test_tokens_are_indexed_by_code_only_when_a_code_exchange_issued_them(app):
    import sqlalchemy as sa
    from servicekit import db

    engine = db.database(app).engine
    inspector = sa.inspect(engine)
    for table in ("oauth_refresh_tokens", "oauth_access_tokens"):
        (index,) = [i for i in inspector.get_indexes(table) if i["column_names"] == ["code_id"]]
        condition = index["dialect_options"][f"{engine.dialect.name}_where"]
        assert "code_id IS NOT NULL" in str(condition)
