"""The FHIR search parser: what it accepts, what it refuses, and the links it rebuilds."""

import datetime as dt

import pytest
from directory.fhir.params import (
    DEFAULT_COUNT,
    DateRange,
    SearchError,
    Token,
    parse_date,
    parse_search,
    parse_token,
)


def test_it_reads_repeated_parameters_as_and_and_commas_as_or():
    search = parse_search("Practitioner", [("family", "lefe,dup"), ("given", "jean")])
    assert [(item.name, item.values) for item in search.filters] == [
        ("family", ("lefe", "dup")),
        ("given", ("jean",)),
    ]


def test_it_keeps_the_string_modifiers_exact_and_contains():
    search = parse_search("Practitioner", [("name:exact", "Lefèvre"), ("family:contains", "fev")])
    assert [(item.name, item.modifier) for item in search.filters] == [
        ("name", "exact"),
        ("family", "contains"),
    ]


def test_it_refuses_an_unknown_search_parameter():
    with pytest.raises(SearchError, match="'birthdate' is not supported on Practitioner"):
        parse_search("Practitioner", [("birthdate", "1970")])


def test_it_refuses_a_parameter_of_another_resource_type():
    with pytest.raises(SearchError, match="'specialty' is not supported on Practitioner"):
        parse_search("Practitioner", [("specialty", "SM32")])


def test_it_refuses_an_unknown_modifier():
    with pytest.raises(SearchError, match="modifier ':missing'"):
        parse_search("Practitioner", [("family:missing", "true")])


def test_it_refuses_a_modifier_on_a_mailbox_address():
    with pytest.raises(SearchError, match="modifier ':contains'"):
        parse_search("Practitioner", [("mailbox-mss:contains", "chu")])


def test_it_refuses_a_modifier_on_a_token():
    with pytest.raises(SearchError, match="modifier ':exact'"):
        parse_search("Organization", [("identifier:exact", "350000014")])


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (
            "https://rpps.esante.gouv.fr|10001234567",
            Token("https://rpps.esante.gouv.fr", "10001234567"),
        ),
        ("10001234567", Token(None, "10001234567")),
        ("|10001234567", Token("", "10001234567")),
        ("https://rpps.esante.gouv.fr|", Token("https://rpps.esante.gouv.fr", None)),
    ],
)
def test_it_reads_the_four_forms_of_a_token(value, token):
    assert parse_token("identifier", value) == token


@pytest.mark.parametrize("value", ["|", "a|b|c"])
def test_it_refuses_a_malformed_token(value):
    with pytest.raises(SearchError):
        parse_token("identifier", value)


@pytest.mark.parametrize(
    ("value", "prefix", "start", "end"),
    [
        ("2026", "eq", "2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        ("ge2026-11", "ge", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
        ("lt2026-12-31", "lt", "2026-12-31T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        (
            "gt2026-11-29T10:00:00+01:00",
            "gt",
            "2026-11-29T09:00:00+00:00",
            "2026-11-29T09:00:01+00:00",
        ),
        ("le2026-11-29T10:00Z", "le", "2026-11-29T10:00:00+00:00", "2026-11-29T10:01:00+00:00"),
    ],
)
def test_it_reads_a_date_with_its_prefix_as_the_instants_it_covers(value, prefix, start, end):
    expected = DateRange(prefix, dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end))
    assert parse_date("_lastUpdated", value) == expected


@pytest.mark.parametrize(
    "value", ["yesterday", "sa2026-01-01", "2026-13-01", "2026-02-30", "2026-11-29T10:00", "ne2026"]
)
def test_it_refuses_a_malformed_date_or_an_unsupported_prefix(value):
    with pytest.raises(SearchError):
        parse_search("Practitioner", [("_lastUpdated", value)])


@pytest.mark.parametrize("value", ["yes", "1", "True"])
def test_it_refuses_a_boolean_other_than_true_or_false(value):
    with pytest.raises(SearchError, match="true or false"):
        parse_search("Practitioner", [("active", value)])


def test_it_reads_a_reference_as_type_and_id_or_id_alone():
    search = parse_search(
        "PractitionerRole", [("practitioner", "Practitioner/abc-1"), ("organization", "org.2")]
    )
    assert [item.values for item in search.filters] == [("abc-1",), ("org.2",)]


def test_it_refuses_a_reference_to_another_resource_type():
    with pytest.raises(SearchError, match="refers to Practitioner resources only"):
        parse_search("PractitionerRole", [("practitioner", "Organization/abc")])


def test_it_refuses_an_id_with_characters_fhir_does_not_allow():
    with pytest.raises(SearchError, match="not a valid id"):
        parse_search("Practitioner", [("_id", "abc def")])


def test_it_pages_20_by_default_and_at_most_100():
    assert parse_search("Practitioner", []).count == DEFAULT_COUNT
    assert parse_search("Practitioner", [("_count", "100")]).count == 100
    assert parse_search("Practitioner", [("_count", "5000")]).count == 100
    with pytest.raises(SearchError, match="_count"):
        parse_search("Practitioner", [("_count", "-1")])


def test_it_refuses_a_malformed_offset_or_total():
    with pytest.raises(SearchError, match="_offset"):
        parse_search("Practitioner", [("_offset", "x")])
    with pytest.raises(SearchError, match="_total"):
        parse_search("Practitioner", [("_total", "maybe")])


def test_it_accepts_only_the_includes_of_the_searched_type():
    search = parse_search("PractitionerRole", [("_include", "PractitionerRole:organization")])
    assert search.includes == ["PractitionerRole:organization"]
    with pytest.raises(SearchError, match="_include=Organization:partof"):
        parse_search("Practitioner", [("_include", "Organization:partof")])
    with pytest.raises(SearchError, match="_revinclude=PractitionerRole:organization"):
        parse_search("Practitioner", [("_revinclude", "PractitionerRole:organization")])


def test_it_refuses_an_empty_value_and_a_control_parameter_given_twice():
    with pytest.raises(SearchError, match="empty value"):
        parse_search("Practitioner", [("family", "")])
    with pytest.raises(SearchError, match="only once"):
        parse_search("Practitioner", [("_count", "5"), ("_count", "6")])


def test_it_rebuilds_the_query_of_a_search_for_its_paging_links():
    pairs = [
        ("role", "10"),
        ("_lastUpdated", "ge2026-11"),
        ("_include", "PractitionerRole:practitioner"),
        ("_count", "5"),
        ("_total", "none"),
    ]
    search = parse_search("PractitionerRole", pairs)
    assert search.query_items() == [
        ("role", "10"),
        ("_lastUpdated", "ge2026-11"),
        ("_include", "PractitionerRole:practitioner"),
        ("_total", "none"),
        ("_count", "5"),
    ]
