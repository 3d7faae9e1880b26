"""The migrations build exactly the models' tables; search keys fold names the way users type."""

import pytest
from directory.models import Base, search_key
from servicekit.migrations import differences, is_current


def test_it_migrates_to_exactly_the_tables_the_models_declare(app):
    assert is_current(app)
    assert differences(app, Base.metadata) == []


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
