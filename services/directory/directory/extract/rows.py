"""Records as rows to stage, and back: (key, fingerprint, content as JSON text).

Plain strings travel cheaply between processes and are stored as they are: the reading processes
build them (directory.extract.batches), the importer stages and diffs them (directory.imports).
"""

import json
from functools import lru_cache
from operator import attrgetter

from directory.extract.records import Activity, Mailbox, Organisation, Professional

# What stages one record: its key, its fingerprint and its content as JSON text.
StagedRow = tuple[str, str, str]


def encode_professional(person: Professional) -> list:
    """The staged form of a professional: identity fields, then its activities' values.

    Each activity keeps its fingerprint as its last value, so that reading it back does not
    hash it again.
    """
    activities = [[*_values(activity), activity.fingerprint] for activity in person.activities]
    return [
        person.id_type,
        person.identifier,
        person.civilite_code,
        person.civilite_exercice_code,
        person.family_name,
        person.given_name,
        activities,
    ]


def professional_row(person: Professional) -> StagedRow:
    """What stages a professional: (national id, fingerprint, data)."""
    return person.national_id, person.fingerprint, _dumps(encode_professional(person))


def organisation_row(org: Organisation) -> StagedRow:
    """What stages an organisation: (key, fingerprint, data)."""
    return org.key, org.fingerprint, _dumps(_values(org))


def mailbox_row(box: Mailbox) -> StagedRow:
    """What stages a mailbox: (address, fingerprint, data)."""
    return box.address, box.fingerprint, _dumps(_values(box))


def decode_professional(national_id: str, data: str, print_: str = "") -> Professional:
    """The professional a staged row holds (organisations are staged on their own)."""
    *identity, activities = json.loads(data)
    acts = tuple(_activity(values) for values in activities)
    professions = tuple(sorted({a.profession_code for a in acts if a.profession_code}))
    return Professional(national_id, *identity, professions, acts, (), fingerprint=print_)


def decode_organisation(key: str, data: str, print_: str) -> Organisation:
    """The organisation a staged row holds."""
    return Organisation(*json.loads(data), fingerprint=print_)


def decode_mailbox(key: str, data: str, print_: str) -> Mailbox:
    """The mailbox a staged row holds."""
    return Mailbox(*json.loads(data), fingerprint=print_)


# Compact: staged data is only read back by json.loads.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _values(record) -> list[str]:
    return list(_content_of(type(record))(record))


@lru_cache(maxsize=8)
def _content_of(kind: type):
    """A getter of a record type's fields but its fingerprint, in declaration order."""
    return attrgetter(*(name for name in kind.__slots__ if name != "fingerprint"))


def _activity(values: list[str]) -> Activity:
    return Activity(*values)
