"""The portal's migrations build exactly the tables its models declare."""

from portal.models import Base
from servicekit.migrations import differences, is_current


def test_it_migrates_to_exactly_the_tables_the_models_declare(app):
    assert is_current(app)
    assert differences(app, Base.metadata) == []
