"""The migrations build exactly the tables identity's models declare, indexes included."""

from identity.models import Base
from servicekit.migrations import differences, is_current


def test_it_migrates_to_exactly_the_tables_the_models_declare(app):
    import identity.oauth.models  # noqa: F401 - the provider's tables share identity's Base

    assert is_current(app)
    assert differences(app, Base.metadata) == []
