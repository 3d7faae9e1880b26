"""SQL conditions for parsed search filters, written to use the tables' indexes.

Name searches compare `search_key` of the value with the normalised `*_search` columns using a
prefix `LIKE 'key%'` (served by their index); `:contains` is `LIKE '%key%'` (a scan, by nature);
`:exact` compares the name as stored. Postcode prefixes become a range so that a plain index
serves them whatever the column's collation.
"""

import re
import uuid
from dataclasses import replace
from typing import ClassVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import visitors
from sqlalchemy.sql.visitors import InternalTraversal

from directory.extract.rules import RPPS_TYPE
from directory.fhir import resources, spec
from directory.fhir.params import SearchError, chain_target
from directory.models import Mailbox, Organization, Practitioner, PractitionerRole, search_key

MODELS = {
    "Practitioner": Practitioner,
    "PractitionerRole": PractitionerRole,
    "Organization": Organization,
}
_POSTCODE = re.compile(r"^\d{1,5}$")


def conditions(model, search_filters, led=False):
    """The SQL conditions of a search's filters (all must hold); `led`: another condition,
    left out of these, leads the search.

    With a chain among them, one filter leads, the practitioner's name before the place: on
    SQLite, which has no statistics, the others are compared without their index. It would
    otherwise read every role of a common speciality or of a whole département, rather than
    the roles of the few practitioners named.
    """
    leader = "elsewhere" if led else _leader(search_filters)
    return [
        condition(model, item, indexed=leader is None or item is leader or not _steered(item))
        for item in search_filters
    ]


def _leader(search_filters):
    for reference in ("practitioner.", "organization."):
        for item in search_filters:
            if item.name.startswith(reference):
                return item
    return None


def _steered(search_filter):
    return "." in search_filter.name or search_filter.name in _CODES


class Unindexed(sa.sql.expression.ColumnElement):
    """A column that SQLite must not look up through an index (`+column`); as is elsewhere."""

    inherit_cache = True
    _traverse_internals: ClassVar = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column):
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _compile_unindexed(element, compiler, **kw):
    return compiler.process(element.column, **kw)


@compiles(Unindexed, "sqlite")
def _compile_unindexed_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.column, **kw)


def _without_index(clause):
    return visitors.replacement_traverse(
        clause, {}, lambda element: Unindexed(element) if isinstance(element, sa.Column) else None
    )


def condition(model, search_filter, indexed=True):
    """The SQL condition of one filter: any of its values (OR); see Unindexed for `indexed`."""
    target_type, reference, name = chain_target(model.__name__, search_filter.name)
    if reference:
        column = getattr(model, f"{reference}_id")
        target, target_filter = MODELS[target_type], replace(search_filter, name=name)
        if indexed:
            # The referenced rows that match, as a subquery the roles are then looked up by.
            return column.in_(sa.select(target.id).where(condition(target, target_filter)))
        return _referenced_row_matches(column, target, target_filter)
    build = _BUILDERS[(model.__name__, name)]
    clause = sa.or_(
        *(build(model, search_filter.modifier, value) for value in search_filter.values)
    )
    return clause if indexed else _without_index(clause)


def _referenced_row_matches(column, target, target_filter):
    """Another criterion leads: each row it finds is checked by the one row it references,
    looked up by its key, never by the set of every match of the filter (a département holds
    thousands of sites, while a page of namesakes checks a few hundred roles)."""
    matches = condition(target, target_filter, indexed=False)
    # The referenced table is read afresh even when the search joins it (name-led searches).
    return sa.exists().where(target.id == column, matches).correlate_except(target)


def as_uuid(value):
    """The UUID a logical id names, or None when it cannot name any row."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _id(model, _modifier, value):
    key = as_uuid(value)
    return model.id == key if key else sa.false()


def _active(model, _modifier, value):
    # Wrapped so that no planner prefers the index of a column nearly always true (SQLite,
    # without statistics, would choose it over the name index of the same search).
    return sa.func.coalesce(model.active, sa.false()) == sa.literal(value)


def _last_updated(model, _modifier, value):
    column = model.updated_at
    return {
        "eq": sa.and_(column >= value.start, column < value.end),
        "gt": column >= value.end,
        "ge": column >= value.start,
        "lt": column < value.start,
        "le": column < value.end,
    }[value.prefix]


def _key(value):
    # search_key leaves no LIKE wildcard but '%'; an empty key would match everything.
    key = search_key(value).replace("%", "")
    if not key:
        raise SearchError(f"'{value}' holds no letter or digit to search for.")
    return key


def _text(search_column, exact_column, modifier, value):
    if modifier == "exact":
        return exact_column == value
    if modifier == "contains":
        return search_column.like(f"%{_key(value)}%")
    return search_column.like(f"{_key(value)}%")


def name_prefix(column, search_filter):
    """A name filter's values as prefixes of one `*_search` column (any of them matches)."""
    return sa.or_(*(column.like(f"{_key(value)}%") for value in search_filter.values))


def _family(model, modifier, value):
    return _text(model.family_search, model.family, modifier, value)


def _given(model, modifier, value):
    return _text(model.given_search, model.given, modifier, value)


def _practitioner_name(model, modifier, value):
    return sa.or_(_family(model, modifier, value), _given(model, modifier, value))


def _organization_name(model, modifier, value):
    return _text(model.name_search, model.name, modifier, value)


def _city(model, modifier, value):
    return _text(model.city_search, model.city, modifier, value)


def _postcode(model, modifier, value):
    if not _POSTCODE.match(value):
        raise SearchError(f"'{value}' is not a postcode or the start of one.")
    if modifier == "contains":
        return model.postcode.contains(value)
    if modifier == "exact" or len(value) == 5:
        return model.postcode == value
    # "750" is the range ["750", "751"): digits sort the same under every collation.
    if value == "9" * len(value):
        return model.postcode >= value
    upper = str(int(value) + 1).zfill(len(value))
    return sa.and_(model.postcode >= value, model.postcode < upper)


def _mailbox_owner(column):
    def build(model, _modifier, value):
        owners = sa.select(column).where(Mailbox.address == value.strip().lower())
        if column is Mailbox.organization_id:
            # A personal mailbox at an organisation belongs to the practitioner, as in telecom.
            owners = owners.where(Mailbox.practitioner_id.is_(None))
        return _owner_column(model).in_(owners)

    return build


def _owner_column(model):
    return model.practitioner_id if model is PractitionerRole else model.id


def _practitioner_identifier(model, _modifier, token):
    # An RPPS number is looked up as the national id it makes, 8 + RPPS (unique, so indexed):
    # an index of the rpps column would only repeat it.
    if token.system == spec.RPPS:
        if token.code is None:
            return model.id_type == RPPS_TYPE
        return model.national_id == RPPS_TYPE + token.code
    if token.system is None:
        return model.national_id.in_((RPPS_TYPE + token.code, token.code))
    return _identifier({spec.IDNPS: model.national_id}, token)


def _organization_identifier(model, _modifier, token):
    columns = {spec.FINESS: model.finess, spec.SIRET: model.siret}
    return _identifier(columns, token)


def _identifier(columns, token):
    if token.system is None:
        return sa.or_(*(column == token.code for column in columns.values()))
    column = columns.get(token.system)
    if column is None:
        return sa.false()
    return column.is_not(None) if token.code is None else column == token.code


def _token(columns, token):
    """A code in the column of its system, or in any of them without a system."""
    if token.system is None:
        return sa.or_(*(column == token.code for column in columns.values()))
    column = columns.get(token.system)
    if column is None:
        return sa.false()
    return column != "" if token.code is None else column == token.code


def _role(model, _modifier, token):
    return _token({spec.PROFESSION: model.profession_code, spec.FONCTION: model.role_code}, token)


def _type(model, _modifier, token):
    return _token({spec.SECTEUR_ACTIVITE: model.sector_code}, token)


def _specialty(model, _modifier, token):
    column = model.savoir_faire_code
    if token.system is None:
        return _with_speciality(column, column == token.code)
    codes = resources.codes_of_system(token.system)
    if token.code is None:
        return _with_speciality(column, column.in_(sorted(codes))) if codes else sa.false()
    return _with_speciality(column, column == token.code) if token.code in codes else sa.false()


def _with_speciality(column, condition):
    """`condition` on the roles' savoir-faire, with models.HAS_SPECIALITY spelled out: the
    speciality indexes hold only roles that have one, and SQLite uses such an index only for
    a query that states its condition (implied here: no speciality code is empty)."""
    return sa.and_(column != sa.literal_column("''"), condition)


def _reference(column_name):
    def build(model, _modifier, value):
        key = as_uuid(value)
        return getattr(model, column_name) == key if key else sa.false()

    return build


def _part_of(model, _modifier, value):
    key = as_uuid(value)
    if not key:
        return sa.false()
    parent = so.aliased(Organization)
    finess = sa.select(parent.finess).where(parent.id == key).scalar_subquery()
    return model.part_of == finess


_CODES = ("specialty", "role")
_COMMON = {"_id": _id, "active": _active, "_lastUpdated": _last_updated}
_BUILDERS = {
    **{(kind, name): build for kind in MODELS for name, build in _COMMON.items()},
    ("Practitioner", "identifier"): _practitioner_identifier,
    ("Practitioner", "family"): _family,
    ("Practitioner", "given"): _given,
    ("Practitioner", "name"): _practitioner_name,
    ("Practitioner", "mailbox-mss"): _mailbox_owner(Mailbox.practitioner_id),
    ("PractitionerRole", "practitioner"): _reference("practitioner_id"),
    ("PractitionerRole", "organization"): _reference("organization_id"),
    ("PractitionerRole", "role"): _role,
    ("PractitionerRole", "specialty"): _specialty,
    ("PractitionerRole", "mailbox-mss"): _mailbox_owner(Mailbox.practitioner_id),
    ("Organization", "identifier"): _organization_identifier,
    ("Organization", "name"): _organization_name,
    ("Organization", "address-city"): _city,
    ("Organization", "address-postalcode"): _postcode,
    ("Organization", "type"): _type,
    ("Organization", "partof"): _part_of,
    ("Organization", "mailbox-mss"): _mailbox_owner(Mailbox.organization_id),
}
