"""Searches and reads: a page of rows in one query, then everything around it in bulk.

A page costs a fixed number of queries whatever its size: the matches (plus the count), one per
_include / _revinclude, then the mailboxes and legal entities the resources show.
"""

from collections import defaultdict
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from servicekit import bulk

from directory.fhir import documents, resources, spec
from directory.fhir.filters import MODELS, as_uuid, condition, conditions, name_prefix
from directory.models import Mailbox, Organization, Practitioner, PractitionerRole

# A hospital may have thousands of roles: a page includes that many at most, and says so.
MAX_REVINCLUDED = 1000

_FAMILY_FIRST = (Practitioner.family_search, Practitioner.given_search, Practitioner.id)
_GIVEN_FIRST = (Practitioner.given_search, Practitioner.family_search, Practitioner.id)
_ROLE_FAMILY_FIRST = (
    PractitionerRole.family_search,
    PractitionerRole.given_search,
    PractitionerRole.practitioner_id,
    PractitionerRole.id,
)
_ROLE_GIVEN_FIRST = (
    PractitionerRole.given_search,
    PractitionerRole.family_search,
    PractitionerRole.practitioner_id,
    PractitionerRole.id,
)
_ORDER = {
    "Practitioner": _FAMILY_FIRST,
    "PractitionerRole": (PractitionerRole.id,),
    "Organization": (Organization.name_search, Organization.id),
}


@dataclass
class Page:
    """One page of a search, as FHIR resources."""

    matches: list
    included: list = field(default_factory=list)
    outcomes: list = field(default_factory=list)
    total: int | None = None
    has_next: bool = False


def read(session, resource_type, logical_id):
    """The resource with this id, or None."""
    key = as_uuid(logical_id)
    row = session.get(MODELS[resource_type], key) if key else None
    return _to_resources(session, [row])[0] if row else None


def search(session, search):
    """Run a parsed search: the page of matches, its includes, and its total (see _total)."""
    model = MODELS[search.resource_type]
    plan = _plan(search, model)
    rows = []
    if search.count and plan.by_name:
        rows = _page_by_name(session, search, model, plan)
    elif search.count:
        paged = sa.select(model).where(*plan.parts[0]).order_by(*plan.orders[0])
        paged = paged.offset(search.offset).limit(search.count + 1)
        rows = list(session.scalars(paged))
    has_next = len(rows) > search.count
    rows = rows[: search.count]
    total = _total(session, search, plan, rows, has_next)
    included, outcomes = _included(session, search, rows)
    converted = _to_resources(session, rows + included)
    matches, included = converted[: len(rows)], converted[len(rows) :]
    return Page(matches, included, outcomes, total, has_next)


@dataclass(frozen=True)
class _Plan:
    """How a search reads its matches: from `source`, in disjoint parts (their conditions),
    each in its own order; `counted` tells whether a total is worth counting unasked."""

    source: object
    parts: list
    orders: list
    by_name: bool = False
    counted: bool = True


def _plan(search, model):
    """A search by name reads two parts: the family-name matches, then the given-name matches
    whose family name does not match; any other search is one part in the resource's order."""
    name_filter = _by_name(search)
    if name_filter is None:
        return _Plan(model, [conditions(model, search.filters)], [_ORDER[search.resource_type]])
    rest = [item for item in search.filters if item is not name_filter]
    if model is Practitioner:
        family, given = _practitioner_names(name_filter)
        others = conditions(model, rest, led=True)
        orders = [_FAMILY_FIRST, _GIVEN_FIRST]
        return _Plan(model, _name_parts(family, given, others), orders, by_name=True)
    # Roles' matches are spread over two tables: counting them costs many times their page.
    speciality = _one_speciality(rest)
    if speciality is None:
        family, given = _practitioner_names(name_filter)
        others = conditions(model, rest, led=True)
        orders = [(*_FAMILY_FIRST, PractitionerRole.id), (*_GIVEN_FIRST, PractitionerRole.id)]
        source = sa.join(PractitionerRole, Practitioner)
        return _Plan(source, _name_parts(family, given, others), orders, True, counted=False)
    # The roles of one speciality, read in the order of the name keys they carry.
    family = name_prefix(PractitionerRole.family_search, name_filter)
    given = name_prefix(PractitionerRole.given_search, name_filter)
    rest.remove(speciality)
    others = [condition(model, speciality), *conditions(model, rest, led=True)]
    orders = [_ROLE_FAMILY_FIRST, _ROLE_GIVEN_FIRST]
    return _Plan(model, _name_parts(family, given, others), orders, True, counted=False)


_NAME_FILTERS = {"Practitioner": "name", "PractitionerRole": "practitioner.name"}


def _by_name(search):
    """The name filter (prefix) a search pages by: `name` of a Practitioner search, or
    `practitioner.name` of a role search; None for any other search."""
    wanted = _NAME_FILTERS.get(search.resource_type)
    return next(
        (item for item in search.filters if item.name == wanted and not item.modifier), None
    )


def _one_speciality(search_filters):
    """The filter asking for one speciality code, if any: it leads a role search by name."""
    for item in search_filters:
        plain = item.name == "specialty" and not item.modifier
        if plain and len(item.values) == 1 and item.values[0].code:
            return item
    return None


def _practitioner_names(name_filter):
    family = condition(Practitioner, replace(name_filter, name="family"))
    given = condition(Practitioner, replace(name_filter, name="given"))
    return family, given


def _name_parts(family, given, others):
    return [[family, *others], [given, sa.not_(family), *others]]


def _page_by_name(session, search, model, plan):
    """A page of a search by name: the family-name matches first, then the given-name ones.

    Each part is read in the order of its own index and only up to the page's end: a common
    name costs a page, not a sort of all its namesakes.
    """
    end = search.offset + search.count + 1
    ids = []
    for where, order in zip(plan.parts, plan.orders, strict=True):
        if len(ids) < end:
            statement = sa.select(model.id).select_from(plan.source).where(*where)
            ids += session.scalars(statement.order_by(*order).limit(end - len(ids)))
    ids = ids[search.offset :]
    rows = {row.id: row for row in _rows_by_id(session, model, ids)}
    return [rows[key] for key in ids]


def _total(session, search, plan, rows, has_next):
    """Bundle.total: exact when asked (_total=accurate), none with _total=none; otherwise exact
    up to spec.TOTAL_LIMIT matches and left out above, so that a common name costs no full count;
    left out too, unless asked, where the plan says counting is not worth it.

    The plan's parts are disjoint, each counted on its own index.
    """
    if search.total == "none":
        return None
    if rows and not has_next:  # the last page: its rows tell the total
        return search.offset + len(rows)
    if search.total == "accurate":
        return sum(_count(session, plan.source, where) for where in plan.parts)
    if search.total is None and not plan.counted:
        return None
    total = 0
    for where in plan.parts:
        total += _count(session, plan.source, where, limit=spec.TOTAL_LIMIT + 1 - total)
        if total > spec.TOTAL_LIMIT:
            return None
    return total


def _count(session, source, where, limit=None):
    # A constant rather than the columns: a count within an index reads no table row.
    matches = sa.select(sa.literal(1)).select_from(source).where(*where).limit(limit)
    return session.scalar(sa.select(sa.func.count()).select_from(matches.subquery()))


def _included(session, search, rows):
    """Rows named by _include / _revinclude, each once and never one already matched."""
    seen = {(type(row), row.id) for row in rows}
    included, outcomes = [], []
    for value in search.includes:
        included += _INCLUDES[value](session, rows)
    for value in search.revincludes:
        found = _REVINCLUDES[value](session, rows)
        if len(found) > MAX_REVINCLUDED:
            found = found[:MAX_REVINCLUDED]
            outcomes.append(_truncated(value))
        included += found
    unique = []
    for row in included:
        if (type(row), row.id) not in seen:
            seen.add((type(row), row.id))
            unique.append(row)
    return unique, outcomes


def _truncated(value):
    message = f"_revinclude={value} is limited to {MAX_REVINCLUDED} resources per page."
    return documents.outcome(message, code="incomplete", severity="warning")


def _rows_by_id(session, model, ids):
    return _rows_among(session, _BY_ID[model], {key for key in ids if key})


def _rows_among(session, query: bulk.Among, keys, method="scalars") -> list:
    """The rows of `query` whose key is among `keys`, in one statement built once.

    Built anew for each page, a query of listed values cost more of the web process's CPU than
    its rows did: an `IN` list rendered value by value at each execution. On PostgreSQL the keys
    go as one array.
    """
    if not keys:
        return []
    statement = bulk.spelled_for(session.get_bind().dialect, query)
    return list(getattr(session, method)(statement, {"keys": list(keys)}))


_BY_ID = {model: bulk.among(sa.select(model), model.id) for model in MODELS.values()}


def _role_practitioners(session, roles):
    return _rows_by_id(session, Practitioner, (role.practitioner_id for role in roles))


def _role_organizations(session, roles):
    return _rows_by_id(session, Organization, (role.organization_id for role in roles))


def _parents(session, organizations):
    finess = {org.part_of for org in organizations if org.part_of}
    return _rows_among(session, _BY_FINESS, finess)


_BY_FINESS = bulk.among(sa.select(Organization), Organization.finess)


def _roles_of(column):
    first = sa.select(PractitionerRole).order_by(PractitionerRole.id).limit(MAX_REVINCLUDED + 1)
    query = bulk.among(first, column)

    def load(session, rows):
        return _rows_among(session, query, [row.id for row in rows])

    return load


_INCLUDES = {
    "PractitionerRole:practitioner": _role_practitioners,
    "PractitionerRole:organization": _role_organizations,
    "Organization:partof": _parents,
}
_REVINCLUDES = {
    "PractitionerRole:practitioner": _roles_of(PractitionerRole.practitioner_id),
    "PractitionerRole:organization": _roles_of(PractitionerRole.organization_id),
}


def _to_resources(session, rows):
    """FHIR resources of rows of any type, with their mailboxes and legal entities."""
    by_type = defaultdict(list)
    for row in rows:
        by_type[type(row)].append(row)
    boxes = _mailboxes(session, by_type)
    parents = _parent_ids(session, by_type[Organization])
    return [_resource(row, boxes, parents) for row in rows]


def _resource(row, boxes, parents):
    if isinstance(row, Practitioner):
        return resources.practitioner(row, boxes["practitioner", row.id])
    if isinstance(row, PractitionerRole):
        mailboxes = boxes["practitioner", row.practitioner_id]
        mailboxes = [box for box in mailboxes if box.organization_id in (None, row.organization_id)]
        return resources.practitioner_role(row, mailboxes)
    parent_id = parents.get(row.part_of)
    return resources.organization(row, boxes["organization", row.id], parent_id)


def _mailboxes(session, by_type):
    """Active mailboxes by owner: ("practitioner", id) or ("organization", id)."""
    practitioner_ids = {row.id for row in by_type[Practitioner]}
    practitioner_ids |= {row.practitioner_id for row in by_type[PractitionerRole]}
    organization_ids = {row.id for row in by_type[Organization]}
    boxes = defaultdict(list)
    # Two queries rather than one with OR: each is served by its own index.
    for box in _active_boxes(session, _BOXES_OF_PRACTITIONERS, practitioner_ids):
        boxes["practitioner", box.practitioner_id].append(box)
    for box in _active_boxes(session, _BOXES_OF_ORGANIZATIONS, organization_ids):
        boxes["organization", box.organization_id].append(box)
    return boxes


_BY_ADDRESS = sa.select(Mailbox).order_by(Mailbox.address)
_BOXES_OF_PRACTITIONERS = bulk.among(_BY_ADDRESS, Mailbox.practitioner_id)
_BOXES_OF_ORGANIZATIONS = bulk.among(
    _BY_ADDRESS.where(Mailbox.practitioner_id.is_(None)), Mailbox.organization_id
)


def _active_boxes(session, query, owner_ids):
    # `active` is filtered here, not in SQL: SQLite would pick its index over the owner's.
    return [box for box in _rows_among(session, query, owner_ids) if box.active]


def _parent_ids(session, organizations):
    """The id of each legal entity (FINESS EJ) the organisations name, when it is listed."""
    finess = {org.part_of for org in organizations if org.part_of}
    return dict(_rows_among(session, _IDS_BY_FINESS, finess, method="execute"))


_IDS_BY_FINESS = bulk.among(sa.select(Organization.finess, Organization.id), Organization.finess)
