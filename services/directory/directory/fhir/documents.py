"""The FHIR documents around resources: searchset Bundle, OperationOutcome, CapabilityStatement."""

from urllib.parse import urlencode

from directory.fhir import spec

FHIR_VERSION = "4.0.1"
CAPABILITY_DATE = "2026-11-29"


def outcome(diagnostics, code="invalid", severity="error"):
    """An OperationOutcome with one issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def searchset(base, search, page):
    """The searchset Bundle of a page: matches then includes, with paging links."""
    bundle = {"resourceType": "Bundle", "type": "searchset"}
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = _links(base, search, page)
    entries = [_entry(base, resource, "match") for resource in page.matches]
    entries += [_entry(base, resource, "include") for resource in page.included]
    entries += [{"resource": issue, "search": {"mode": "outcome"}} for issue in page.outcomes]
    if entries:
        bundle["entry"] = entries
    return bundle


def _entry(base, resource, mode):
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _links(base, search, page):
    def url(offset):
        items = [*search.query_items(), ("_offset", str(offset))]
        return f"{base}/{search.resource_type}?{urlencode(items)}"

    links = [{"relation": "self", "url": url(search.offset)}]
    if search.offset > 0:
        links.append({"relation": "first", "url": url(0)})
        links.append({"relation": "previous", "url": url(max(search.offset - search.count, 0))})
    if page.has_next:
        links.append({"relation": "next", "url": url(search.offset + search.count)})
    return links


def capability_statement(base):
    """What this server supports, exactly: resources, interactions, parameters, includes."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "ENRS",
        "kind": "instance",
        "software": {"name": "ENRS directory"},
        "implementation": {"description": "Annuaire régional ENRS", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "OAuth 2.0 bearer access token (JWT) issued by ENRS identity."
                },
                "resource": [_resource_capability(kind) for kind in spec.RESOURCE_TYPES],
                "searchParam": _paging_parameters(),
            }
        ],
    }


def _resource_capability(kind):
    capability = {
        "type": kind,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {
                "name": name,
                "type": spec.FHIR_TYPES[value_type],
                "documentation": spec.DOCUMENTATION[name],
            }
            for name, value_type in spec.SEARCH_PARAMETERS[kind].items()
        ],
    }
    # FHIR forbids empty arrays: a resource without includes lists none.
    if spec.INCLUDES[kind]:
        capability["searchInclude"] = list(spec.INCLUDES[kind])
    if spec.REVINCLUDES[kind]:
        capability["searchRevInclude"] = list(spec.REVINCLUDES[kind])
    return capability


_TOTAL_DOCUMENTATION = (
    "accurate counts every match; by default (and with estimate) the total is given up to"
    f" {spec.TOTAL_LIMIT} matches and left out above; none skips the count."
)


def _paging_parameters():
    return [
        {"name": name, "type": kind, "documentation": text}
        for name, kind, text in (
            ("_count", "number", "Page size: 20 by default, 100 at most."),
            ("_offset", "number", "Rank of the page's first match."),
            ("_total", "token", _TOTAL_DOCUMENTATION),
        )
    ]
