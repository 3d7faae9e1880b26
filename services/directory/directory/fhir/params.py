"""Parsing of FHIR search parameters into plain values, refusing anything it does not know.

A parameter repeated in the query string is an AND of its occurrences; a comma inside one
occurrence is an OR of its values (FHIR R4, Search §3.1.1.4). Every value is checked here, at the
edge, so the query layer receives only well-formed filters; anything else is a `SearchError`
answered as a 400 OperationOutcome.
"""

import datetime as dt
import re
from dataclasses import dataclass, field

from directory.fhir import spec

DEFAULT_COUNT = 20
MAX_COUNT = 100
MAX_OFFSET = 10_000
MAX_VALUE_LENGTH = 200

_DATE = re.compile(
    r"^(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<time>\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)(?P<tz>Z|[+-]\d{2}:\d{2}))?)?)?$"
)
_DATE_PREFIXES = ("eq", "gt", "ge", "lt", "le")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class SearchError(ValueError):
    """A search the server refuses: unknown parameter, modifier or malformed value."""


@dataclass(frozen=True)
class Token:
    """A token value: `system|code`, `code` (any system) or `|code` (no system)."""

    system: str | None
    code: str | None


@dataclass(frozen=True)
class DateRange:
    """A date comparison: `prefix` applied to the instants [start, end) the value covers."""

    prefix: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Filter:
    """One occurrence of a parameter: its values are alternatives (OR)."""

    name: str
    modifier: str | None
    values: tuple
    raw: str = ""


@dataclass
class Search:
    """A parsed search: filters (AND), paging, total mode, includes and revincludes."""

    resource_type: str
    filters: list[Filter] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    total: str | None = None  # None: not asked, the server's choice (query.TOTAL_LIMIT)
    includes: list[str] = field(default_factory=list)
    revincludes: list[str] = field(default_factory=list)

    def query_items(self):
        """The (name, value) pairs that reproduce this search, for paging links."""
        items = []
        for item in self.filters:
            name = f"{item.name}:{item.modifier}" if item.modifier else item.name
            items.append((name, item.raw))
        items += [("_include", value) for value in self.includes]
        items += [("_revinclude", value) for value in self.revincludes]
        if self.total:
            items.append(("_total", self.total))
        items.append(("_count", str(self.count)))
        return items


def parse_search(resource_type, pairs):
    """Parse the query string `pairs` ((name, value) in order) of a search on resource_type."""
    search = Search(resource_type)
    seen_control = set()
    for raw_name, raw_value in pairs:
        name, _, modifier = raw_name.partition(":")
        if len(raw_value) > MAX_VALUE_LENGTH:
            raise SearchError(f"The value of '{raw_name}' is too long.")
        if name in _CONTROL:
            if name in seen_control and name not in ("_include", "_revinclude"):
                raise SearchError(f"The parameter '{name}' may be given only once.")
            seen_control.add(name)
            _no_modifier(raw_name, modifier)
            _CONTROL[name](search, raw_value)
        else:
            search.filters.append(parse_filter(resource_type, name, modifier or None, raw_value))
    return search


def parse_filter(resource_type, name, modifier, raw_value):
    """One search-parameter occurrence as a Filter, or a SearchError."""
    kind = _parameter_kind(resource_type, name)
    if kind is None:
        raise SearchError(f"The search parameter '{name}' is not supported on {resource_type}.")
    if modifier not in spec.MODIFIERS[kind]:
        raise SearchError(f"The modifier ':{modifier}' is not supported on '{name}'.")
    parts = raw_value.split(",")
    if any(not part for part in parts):
        raise SearchError(f"The parameter '{name}' has an empty value.")
    parser = _VALUE_PARSERS[kind]
    target_type = chain_target(resource_type, name)[0]
    values = tuple(parser(name, part, target_type) for part in parts)
    return Filter(name, modifier, values, raw_value)


def chain_target(resource_type, name):
    """(resource type, reference parameter, its parameter) of a chained name like
    `practitioner.name`; (resource_type, None, name) for a plain parameter."""
    reference, dot, target_name = name.partition(".")
    if not dot:
        return resource_type, None, name
    return spec.REFERENCE_TARGETS[(resource_type, reference)], reference, target_name


def _parameter_kind(resource_type, name):
    reference, dot, target_name = name.partition(".")
    if not dot:
        return spec.SEARCH_PARAMETERS[resource_type].get(name)
    if target_name not in spec.CHAINS.get((resource_type, reference), ()):
        return None
    target_type = spec.REFERENCE_TARGETS[(resource_type, reference)]
    return spec.SEARCH_PARAMETERS[target_type][target_name]


def _no_modifier(raw_name, modifier):
    if modifier:
        raise SearchError(f"The parameter '{raw_name}' takes no modifier.")


def _parse_count(search, value):
    # A larger page is served at the maximum, as FHIR lets servers do; the self link shows it.
    if not value.isdigit():
        raise SearchError("_count must be a whole number.")
    search.count = min(int(value), MAX_COUNT)


def _parse_offset(search, value):
    if not value.isdigit() or int(value) > MAX_OFFSET:
        raise SearchError(f"_offset must be a whole number from 0 to {MAX_OFFSET}.")
    search.offset = int(value)


def _parse_total(search, value):
    if value not in ("none", "estimate", "accurate"):
        raise SearchError("_total must be none, estimate or accurate.")
    search.total = value


def _parse_include(search, value):
    if value not in spec.INCLUDES[search.resource_type]:
        raise SearchError(f"_include={value} is not supported on {search.resource_type}.")
    if value not in search.includes:
        search.includes.append(value)


def _parse_revinclude(search, value):
    if value not in spec.REVINCLUDES[search.resource_type]:
        raise SearchError(f"_revinclude={value} is not supported on {search.resource_type}.")
    if value not in search.revincludes:
        search.revincludes.append(value)


def _parse_format(search, value):
    if value not in ("json", "application/json", "application/fhir+json"):
        raise SearchError("Only the JSON format is supported.")


_CONTROL = {
    "_count": _parse_count,
    "_offset": _parse_offset,
    "_total": _parse_total,
    "_include": _parse_include,
    "_revinclude": _parse_revinclude,
    "_format": _parse_format,
}


def parse_string(name, value, _resource_type=None):
    """A string value, kept as given: the query layer normalises it like the stored names."""
    if not value.strip():
        raise SearchError(f"The parameter '{name}' has an empty value.")
    return value


def parse_token(name, value, _resource_type=None):
    """`system|code`, `|code`, `system|` or `code`."""
    if "|" not in value:
        return Token(None, value)
    system, _, code = value.partition("|")
    if "|" in code or not (system or code):
        raise SearchError(f"The parameter '{name}' must be 'system|code' or 'code'.")
    return Token(system, code or None)


def parse_id(name, value, _resource_type=None):
    """A logical id: FHIR's [A-Za-z0-9-.]{1,64}."""
    if not _ID.match(value):
        raise SearchError(f"'{value}' is not a valid id for '{name}'.")
    return value


def parse_reference(name, value, resource_type):
    """`Type/id` or a bare `id`, the type being the one the parameter points to."""
    target = spec.REFERENCE_TARGETS[(resource_type, name)]
    if "/" in value:
        kind, _, value = value.partition("/")
        if kind != target:
            raise SearchError(f"The parameter '{name}' refers to {target} resources only.")
    return parse_id(name, value)


def parse_boolean(name, value, _resource_type=None):
    """`true` or `false`."""
    if value not in ("true", "false"):
        raise SearchError(f"The parameter '{name}' must be true or false.")
    return value == "true"


def parse_date(name, value, _resource_type=None):
    """An optional prefix (eq, gt, ge, lt, le) then a date or a date-time with its zone."""
    prefix = value[:2] if value[:2] in _DATE_PREFIXES else "eq"
    if value[:2].isalpha() and value[:2] not in _DATE_PREFIXES:
        raise SearchError(f"The prefix '{value[:2]}' is not supported on '{name}'.")
    text = value[2:] if value[:2] in _DATE_PREFIXES else value
    match = _DATE.match(text)
    if not match:
        raise SearchError(f"'{value}' is not a valid date for '{name}'.")
    try:
        start, end = _date_bounds(match)
    except ValueError as exc:
        raise SearchError(f"'{value}' is not a valid date for '{name}'.") from exc
    return DateRange(prefix, start, end)


def _date_bounds(match):
    """The instants [start, end) a date of the given precision covers, in UTC."""
    year, month, day = match["year"], match["month"], match["day"]
    if match["time"]:
        moment = dt.datetime.fromisoformat(f"{year}-{month}-{day}T{match['time']}{match['tz']}")
        moment = moment.astimezone(dt.UTC)
        precision = dt.timedelta(seconds=1) if match["time"].count(":") == 2 else None
        return moment, moment + (precision or dt.timedelta(minutes=1))
    if day:
        start = dt.datetime(int(year), int(month), int(day), tzinfo=dt.UTC)
        return start, start + dt.timedelta(days=1)
    if month:
        start = dt.datetime(int(year), int(month), 1, tzinfo=dt.UTC)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        return start, following
    start = dt.datetime(int(year), 1, 1, tzinfo=dt.UTC)
    return start, start.replace(year=start.year + 1)


_VALUE_PARSERS = {
    "string": parse_string,
    "address": parse_string,
    "token": parse_token,
    "id": parse_id,
    "reference": parse_reference,
    "boolean": parse_boolean,
    "date": parse_date,
}
