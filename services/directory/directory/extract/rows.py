"""Records as rows to stage, and back: (key, fingerprint, content as text).

Plain strings travel cheaply between processes and are stored as they are: the reading processes
build them (directory.extract.batches), the importer stages and diffs them (directory.imports).
A record's values are joined with the extract's own separators, which no value read from a line
can contain: `|` between values, a newline before each activity of a professional. Joining and
splitting cost a fraction of encoding and decoding JSON, on millions of rows each way.
"""

from collections.abc import Callable
from functools import lru_cache
from operator import attrgetter

from directory.extract.records import (
    ID_TYPES,
    Activity,
    Mailbox,
    Organisation,
    Professional,
    Site,
    Values,
    activity_values_of,
    fingerprint_joined,
    identity_values_of,
    organisation_from,
)

# What stages one record: its key, its fingerprint and its content as text.
StagedRow = tuple[str, str, str]


# Between the values of one record, and before each activity of a professional.
_VALUE = "|"
_ACTIVITY = "\n"


def encode_professional(person: Professional) -> str:
    """The staged form of a professional: identity fields, then one part per activity.

    Each activity keeps its fingerprint as its last value, so that reading it back does not
    hash it again.
    """
    parts = [_VALUE.join(identity_values(person))]
    for activity in person.activities:
        parts.append(_VALUE.join(activity_values(activity)))
    return _ACTIVITY.join(parts)


# A professional's own values in its staged form (split_professional's identity).
identity_values = attrgetter(
    "id_type", "identifier", "civilite_code", "civilite_exercice_code", "family_name", "given_name"
)


def professional_row(person: Professional) -> StagedRow:
    """What stages a professional: (national id, fingerprint, data)."""
    return person.national_id, person.fingerprint, encode_professional(person)


# What one activity line gives its professional's staged row (professional_row_of): the national
# id, the identity's values joined, the profession code, the activity's values joined with its
# site's key and its fingerprint, that fingerprint, and the site (None for an activity without).
Piece = tuple[str, str, str, str, str, Site | None]
_PIECE_PROFESSION, _PIECE_TEXT, _PIECE_PRINT, _PIECE_SITE = 2, 3, 4, 5


def line_piece(line: Values) -> Piece:
    """What one line's values give its professional's staged row: each activity's values are
    joined once, for its fingerprint and its staged text alike."""
    national_id, kind, *names = identity_values_of(line)
    site = organisation_from(line)
    values = activity_values_of(line)
    joined = _VALUE.join(values) + _VALUE + ("" if site is None else site.key)
    print_ = fingerprint_joined(joined)
    identity = _VALUE.join((ID_TYPES.get(kind, kind), *names))
    return national_id, identity, values[0], joined + _VALUE + print_, print_, site


def professional_row_of(
    pieces: list[Piece], hashed: Callable[[str], str] = fingerprint_joined
) -> tuple[StagedRow, tuple[Site, ...]]:
    """professional_row(records.professional_from(lines)) and that professional's sites, from
    the pieces of its lines (line_piece, or directory.extract.blocks for many lines at once),
    without the records: about a tenth less of a reader's work than building the records and
    encoding them (decision 51). `hashed` is fingerprint_joined, or what spares its check for
    lines known to need no normalising."""
    national_id, identity, profession, text, print_, site = pieces[0]
    if len(pieces) == 1:  # most professionals: one activity, nothing to collapse or sort
        professions = (profession,) if profession else ()
        own = hashed(_VALUE.join((national_id, identity, *professions, print_)))
        places = () if site is None else (site,)
        return (national_id, own, identity + _ACTIVITY + text), places
    # Sorted so that the fingerprint ignores line order; duplicates collapse (the last one).
    activities = {piece[_PIECE_PRINT]: piece for piece in pieces}
    prints = sorted(activities)
    professions = sorted({activities[print_][_PIECE_PROFESSION] for print_ in prints} - {""})
    own = hashed(_VALUE.join((national_id, identity, *professions, *prints)))
    text = _ACTIVITY.join((identity, *(activities[print_][_PIECE_TEXT] for print_ in prints)))
    sites = {
        piece[_PIECE_SITE].key: piece[_PIECE_SITE]
        for piece in pieces
        if piece[_PIECE_SITE] is not None
    }
    places = tuple(sites[key] for key in sorted(sites))
    return (national_id, own, text), places


def professional_row_from(lines: list[Values]) -> tuple[StagedRow, tuple[Site, ...]]:
    """professional_row_of the pieces of these lines (the values of one professional's)."""
    return professional_row_of(list(map(line_piece, lines)))


def organisation_row(org: Organisation) -> StagedRow:
    """What stages an organisation: (key, fingerprint, data)."""
    return org.key, org.fingerprint, _VALUE.join(_values(org))


def site_row(site: Site) -> StagedRow:
    """What stages the organisation of a site: organisation_row of site.organisation(), without
    building it (its values are joined in the same order, after its key)."""
    return site.key, site.fingerprint, site.key + _VALUE + site.values


def mailbox_row(box: Mailbox) -> StagedRow:
    """What stages a mailbox: (address, fingerprint, data)."""
    return box.address, box.fingerprint, _VALUE.join(_values(box))


def decode_professional(national_id: str, data: str, print_: str = "") -> Professional:
    """The professional a staged row holds (organisations are staged on their own)."""
    identity, activities = split_professional(data)
    acts = tuple(Activity(*values) for values in activities)
    return Professional(
        national_id, *identity, profession_codes(activities), acts, (), fingerprint=print_
    )


def split_professional(data: str) -> tuple[list[str], list[list[str]]]:
    """The values of a staged professional without building its records: its identity's (the
    fields of records.Professional from id_type to given_name), then each activity's (every
    field of records.Activity in order, its fingerprint last)."""
    identity, *activities = data.split(_ACTIVITY)
    return identity.split(_VALUE), [values.split(_VALUE) for values in activities]


def profession_codes(activities: list[list[str]]) -> tuple[str, ...]:
    """The distinct profession codes of activities given as values (split_professional)."""
    return tuple(sorted({values[_PROFESSION] for values in activities if values[_PROFESSION]}))


_PROFESSION = Activity.__slots__.index("profession_code")


def decode_organisation(key: str, data: str, print_: str) -> Organisation:
    """The organisation a staged row holds."""
    return Organisation(*data.split(_VALUE), fingerprint=print_)


def decode_mailbox(key: str, data: str, print_: str) -> Mailbox:
    """The mailbox a staged row holds."""
    return Mailbox(*data.split(_VALUE), fingerprint=print_)


def _values(record) -> tuple[str, ...]:
    return _content_of(type(record))(record)


@lru_cache(maxsize=8)
def _content_of(kind: type):
    """A getter of a record type's fields but its fingerprint, in declaration order."""
    return attrgetter(*(name for name in kind.__slots__ if name != "fingerprint"))


# Every activity of every professional is encoded: its getter is looked up once.
_activity_values = _content_of(Activity)


def activity_values(activity: Activity) -> tuple[str, ...]:
    """An activity's values as split_professional gives them: its fields, fingerprint last."""
    return (*_activity_values(activity), activity.fingerprint)
