"""The FHIR searches' SQL: a fixed number of queries per page, prefixes served by the indexes."""

import contextlib

import pytest
import sqlalchemy as sa
from directory.fhir import samples, spec
from directory.fhir.filters import condition, conditions
from directory.fhir.params import parse_filter
from directory.models import Organization, Practitioner, PractitionerRole
from servicekit import db


@contextlib.contextmanager
def counted_statements(engine):
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def busy_hospital(db_session):
    """A CHU where 30 neurologists work, each with an MSSanté mailbox."""
    directory = samples.seed(db_session)
    for index, neurologist in enumerate(samples.namesakes(db_session, "Neuro", 30)):
        samples.role(db_session, neurologist, directory.chu, savoir_faire="SM32")
        samples.mailbox(db_session, f"neuro{index}@chu.mssante.fr", "PER", neurologist)
    db_session.commit()
    return directory


def test_it_loads_a_page_in_the_same_number_of_queries_whatever_its_size(
    app, client, gp, busy_hospital
):
    query = (
        f"/fhir/PractitionerRole?organization={busy_hospital.chu.id}"
        "&_include=PractitionerRole:practitioner&_include=PractitionerRole:organization"
    )
    engine = db.database(app).engine
    with counted_statements(engine) as small_page:
        small = client.get(query + "&_count=2", headers=gp)
    with counted_statements(engine) as large_page:
        large = client.get(query + "&_count=30", headers=gp)
    assert small.status_code == large.status_code == 200
    assert len(large.json["entry"]) == 30 + 30 + 1
    assert len(large_page) == len(small_page)
    assert len(large_page) <= 7


def _plan(app, statement):
    engine = db.database(app).engine
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # Tables of a few rows are cheaper to scan: ask what the index would serve.
            connection.execute(sa.text("SET enable_seqscan = off"))
            rows = connection.execute(sa.text("EXPLAIN " + sql)).scalars()
            return " ".join(rows)
        rows = connection.execute(sa.text("EXPLAIN QUERY PLAN " + sql))
        return " ".join(row[-1] for row in rows)


@pytest.mark.parametrize(
    ("model", "name", "value", "index"),
    [
        (Practitioner, "family", "Lefè", "ix_practitioners_family_search"),
        (Practitioner, "given", "jean-f", "ix_practitioners_given_search"),
        (Practitioner, "name", "dup", "ix_practitioners_family_search"),
        (Practitioner, "name", "dup", "ix_practitioners_given_search"),
        (Organization, "name", "chu", "ix_organizations_name_search"),
        (Organization, "address-city", "saint-é", "ix_organizations_city_search"),
        (Organization, "address-postalcode", "350", "ix_organizations_postcode"),
    ],
)
def test_it_serves_a_prefix_search_from_its_index(app, directory_rows, model, name, value, index):
    search_filter = parse_filter(model.__name__, name, None, value)
    statement = sa.select(model.id).where(condition(model, search_filter))
    assert index in _plan(app, statement)


@pytest.mark.parametrize(
    "value", ["SM54", f"{spec.SPECIALITE_ORDINALE}|SM54", f"{spec.SPECIALITE_ORDINALE}|"]
)
def test_a_speciality_search_reads_the_speciality_indexes(app, directory_rows, value):
    """They hold only the roles that have a savoir-faire: a speciality search must say so for
    SQLite to read them (models.HAS_SPECIALITY), by one code or every code of a system."""
    if db.database(app).engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL proves the indexes' condition itself, and plans by statistics")
    search_filter = parse_filter("PractitionerRole", "specialty", None, value)
    statement = sa.select(PractitionerRole.id).where(condition(PractitionerRole, search_filter))
    assert "ix_practitioner_roles_specialty_" in _plan(app, statement)


def test_it_keeps_the_name_index_when_active_is_searched_too(app, directory_rows):
    filters = [
        parse_filter("Practitioner", "family", None, "lefe"),
        parse_filter("Practitioner", "active", None, "true"),
    ]
    statement = sa.select(Practitioner.id).where(*(condition(Practitioner, f) for f in filters))
    assert "ix_practitioners_family_search" in _plan(app, statement)


@pytest.fixture
def directory_rows(db_session):
    return samples.seed(db_session)


def test_it_looks_roles_up_from_the_chained_name_rather_than_a_common_speciality(
    app, directory_rows
):
    filters = [
        parse_filter("PractitionerRole", "specialty", None, "SM54"),
        parse_filter("PractitionerRole", "practitioner.name", None, "lefe"),
        parse_filter("PractitionerRole", "organization.address-postalcode", None, "35"),
    ]
    statement = sa.select(PractitionerRole.id).where(*conditions(PractitionerRole, filters))
    plan = _plan(app, statement)
    if db.database(app).engine.dialect.name == "sqlite":
        # SQLite has no statistics: the name leads, the other criteria only filter.
        assert "ix_practitioner_roles_savoir_faire_code" not in plan
        assert "ix_practitioner_roles_organization_id" not in plan
    assert "ix_practitioners_family_search" in plan


def test_it_pages_a_name_search_family_matches_first_then_given_name_ones(
    app, client, gp, db_session
):
    for number, (family, given) in enumerate(
        [
            ("Abel", "Marine"),
            ("Marin", "Zoé"),
            ("Marchand", "Alice"),
            ("Bon", "Marc"),
            ("Roy", "Léa"),
        ]
    ):
        samples.practitioner(db_session, f"81000000000{number}", family, given)
    db_session.commit()
    seen = []
    for offset in range(0, 6, 2):
        page = client.get(f"/fhir/Practitioner?name=mar&_count=2&_offset={offset}", headers=gp).json
        seen += [entry["resource"]["name"][0]["family"] for entry in page.get("entry", [])]
    assert seen == ["Marchand", "Marin", "Bon", "Abel"]  # then by given name: Marc, Marine
    assert page["total"] == 4


def test_it_pages_a_role_search_by_practitioner_name_in_name_order(app, client, gp, db_session):
    place = samples.organization(db_session, "finess:290000017", "CH Quimper", "Quimper", "29000")
    for number, (family, given) in enumerate(
        [("Abel", "Marine"), ("Marin", "Zoé"), ("Marchand", "Alice"), ("Bon", "Marc")]
    ):
        who = samples.practitioner(db_session, f"81000000001{number}", family, given)
        db_session.flush()
        samples.role(db_session, who, place, savoir_faire="SM54")
    db_session.commit()
    query = (
        "/fhir/PractitionerRole?practitioner.name=mar&specialty=SM54"
        "&_include=PractitionerRole:practitioner"
    )
    first = client.get(query + "&_count=3", headers=gp).json
    assert "total" not in first  # spread over two tables: counted only when asked
    assert client.get(query + "&_count=3&_total=accurate", headers=gp).json["total"] == 4
    seen = []
    for offset in (0, 3):
        page = client.get(f"{query}&_count=3&_offset={offset}", headers=gp).json
        included = {
            entry["resource"]["id"]: entry["resource"]["name"][0]["family"]
            for entry in page["entry"]
            if entry["search"]["mode"] == "include"
        }
        seen += [
            included[entry["resource"]["practitioner"]["reference"].split("/")[1]]
            for entry in page["entry"]
            if entry["search"]["mode"] == "match"
        ]
    assert seen == ["Marchand", "Marin", "Bon", "Abel"]
    assert page["total"] == 4


def _statements_of(engine, request):
    """The SQL statements (with their parameters) that `request()` runs."""
    executed = []

    def keep(_conn, _cursor, statement, parameters, *_args):
        executed.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        response = request()
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    return response, executed


def _sqlite_plan(engine, statement, parameters):
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return " ".join(row[-1] for row in rows)


def test_a_speciality_and_name_search_reads_one_index_in_name_order(
    app, client, gp, directory_rows
):
    """The portal's search (speciality, name, place) reads the speciality's roles in the order of
    the name keys they carry, from one index, and looks each place up by its key: it neither
    walks every namesake whatever their speciality, nor lists every site of the département."""
    engine = db.database(app).engine
    response, executed = _statements_of(
        engine,
        lambda: client.get(
            "/fhir/PractitionerRole?practitioner.name=lefe&specialty=SM54"
            "&organization.address-postalcode=42",
            headers=gp,
        ),
    )
    assert [entry["resource"]["id"] for entry in response.json["entry"]] == [
        str(directory_rows.roles.gp.id)
    ]
    statement, parameters = executed[0]  # the page, family-name matches first
    assert "EXISTS" in statement
    assert "JOIN practitioners" not in statement
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by its statistics: a few rows tell nothing
    plan = _sqlite_plan(engine, statement, parameters)
    assert "COVERING INDEX ix_practitioner_roles_specialty_family" in plan
    assert "ix_organizations_postcode" not in plan
    assert "TEMP B-TREE" not in plan  # read in the index's order: no sort


def test_it_checks_the_place_of_each_namesakes_role_from_indexes_alone(
    app, client, gp, directory_rows
):
    """Without a speciality, a name-led role search reads the namesakes' ids and their roles'
    place from indexes, then looks each place up by its key: it never lists every site of the
    département, nor reads a practitioner or role row that does not match."""
    engine = db.database(app).engine
    response, executed = _statements_of(
        engine,
        lambda: client.get(
            "/fhir/PractitionerRole?practitioner.name=lefe&organization.address-postalcode=42",
            headers=gp,
        ),
    )
    assert str(directory_rows.roles.gp.id) in [
        entry["resource"]["id"] for entry in response.json["entry"]
    ]
    statement, parameters = executed[0]
    assert "EXISTS" in statement
    if engine.dialect.name != "sqlite":
        return
    plan = _sqlite_plan(engine, statement, parameters)
    assert "COVERING INDEX ix_practitioners_family_search_given_search_id" in plan
    assert "COVERING INDEX ix_practitioner_roles_practitioner_search" in plan
    assert "ix_organizations_postcode" not in plan
