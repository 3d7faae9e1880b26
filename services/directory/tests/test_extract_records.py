"""Domain records: grouping, fingerprints stable across runs and sensitive to content."""

from dataclasses import replace

import pytest
from directory.extract import (
    ExtractReader,
    RecentOrganisations,
    Record,
    generate,
    mailboxes,
    professionals,
    rows,
)
from directory.extract.formats import PERSONNE_ACTIVITE_COLUMNS
from directory.extract.records import Organisation, fingerprint, professional_from


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """A clean 400-line regional snapshot."""
    folder = tmp_path_factory.mktemp("snapshot")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 400, seed=11)


def records(path):
    return [item for item in ExtractReader(path) if isinstance(item, Record)]


def changed(values, column: str, value: str) -> list[str]:
    """A line's values with one column's value replaced."""
    copy = list(values)
    copy[PERSONNE_ACTIVITE_COLUMNS.index(column)] = value
    return copy


def test_it_groups_the_lines_of_each_professional(snapshot):
    people = list(professionals(records(snapshot.path)))

    assert len(people) == snapshot.professionals
    assert sum(len(p.activities) for p in people) <= 400
    assert any(len(p.activities) > 1 for p in people)
    assert len({p.national_id for p in people}) == len(people)


def test_it_builds_a_professional_with_identifiers_activities_and_organisations(snapshot):
    first = next(professionals(records(snapshot.path)))

    assert first.national_id == ("8" if first.id_type == "RPPS" else "0") + first.identifier
    assert first.family_name and first.given_name
    assert {a.organisation_key for a in first.activities} == {site.key for site in first.sites}
    organisations = [site.organisation() for site in first.sites]
    assert all(o.postcode and o.commune and o.name for o in organisations)


def test_it_gives_the_same_fingerprints_on_every_run(snapshot, tmp_path):
    again = generate(tmp_path / "again.txt", 400, seed=11)

    first = [p.fingerprint for p in professionals(records(snapshot.path))]
    second = [p.fingerprint for p in professionals(records(again.path))]

    assert first == second
    assert len(set(first)) == len(first)


def test_it_changes_the_fingerprint_when_a_field_changes(snapshot):
    first = records(snapshot.path)[0]
    lines = [first.values]
    renamed = [changed(first.values, "Nom d'exercice", first.fields["Nom d'exercice"] + "-Le Gall")]
    moved = [changed(first.values, "Code mode exercice", "B")]

    original = professional_from(lines)

    assert professional_from(renamed).fingerprint != original.fingerprint
    assert professional_from(moved).fingerprint != original.fingerprint
    assert professional_from([list(first.values)]).fingerprint == original.fingerprint


def test_it_changes_only_the_organisation_fingerprint_when_its_phone_changes(snapshot):
    line = records(snapshot.path)[0].values
    new_phone = changed(line, "Téléphone (coord. structure)", "0299000000")

    before, after = professional_from([line]), professional_from([new_phone])

    assert before.fingerprint == after.fingerprint
    assert before.sites[0].fingerprint != after.sites[0].fingerprint


def test_it_ignores_spacing_and_unicode_composition_in_fingerprints():
    composed = fingerprint(["Lefèvre", "Jean-François"])

    assert fingerprint(["Lefe\u0300vre", " Jean-François "]) == composed
    assert fingerprint(["Lefèvre\t", "Jean-François\u00a0"]) == composed
    assert fingerprint(["Lefèvre", "Jean  François"]) != composed
    assert fingerprint(["Lefèvre Jean-François"]) != composed


def activity_line(**named: str) -> list[str]:
    """The values of a general practitioner's line, with the given columns set."""
    fields = dict.fromkeys(PERSONNE_ACTIVITE_COLUMNS, "")
    fields.update(
        {
            "Type d'identifiant PP": "8",
            "Identifiant PP": "10001045367",
            "Identification nationale PP": "810001045367",
            "Nom d'exercice": "Guignard",
            "Prénom d'exercice": "Éric",
            "Code profession": "10",
        }
    )
    fields.update(named)
    return [fields[column] for column in PERSONNE_ACTIVITE_COLUMNS]


def test_it_keeps_the_fingerprints_stored_by_earlier_imports():
    # Values computed before the reader was made faster: a stored fingerprint that changed
    # would make every professional look changed at the next import.
    home = activity_line()
    cabinet = activity_line(
        **{"Numéro SIRET site": "85131528300016", "Raison sociale site": "Cabinet du Parc"}
    )

    alone = professional_from([home])
    person = professional_from([cabinet, home, cabinet])

    assert alone.fingerprint == "427d87045361cc4221bc065897eb18d7"
    assert alone.sites == ()
    assert person.fingerprint == "b0bf795210c187b579ea2f5c66764f87"
    assert [a.organisation_key for a in person.activities] == ["", "siret:85131528300016"]
    assert [(site.key, site.fingerprint) for site in person.sites] == [
        ("siret:85131528300016", "1c5a96ef343064fbc896c9fa77841dbc")
    ]


def test_it_merges_the_split_lines_of_a_professional_into_the_contiguous_record(snapshot):
    person = next(p for p in professionals(records(snapshot.path)) if len(p.activities) > 1)
    lines = [
        r.values
        for r in records(snapshot.path)
        if r.fields["Identification nationale PP"] == person.national_id
    ]

    head, tail = professional_from(lines[:1]), professional_from(lines[1:])
    reversed_order = professional_from(lines[::-1])

    assert head.merged_with(tail) == person
    assert reversed_order.fingerprint == person.fingerprint


def test_the_staged_row_built_from_lines_is_the_one_of_their_record(snapshot):
    # The reader's path (rows.professional_row_from) skips the records: it must stage exactly
    # what they would, here for every professional of a snapshot and for awkward lines.
    def grouped(lines):
        people = {}
        for values in lines:
            people.setdefault(values[2], []).append(values)
        return people.values()

    home = activity_line(**{"Nom d'exercice": "Le  Gall ", "Prénom d'exercice": "Zoe\u0301"})
    cabinet = activity_line(
        **{"Numéro SIRET site": "85131528300016", "Raison sociale site": "Cabinet du\tParc"}
    )
    moved = changed(cabinet, "Raison sociale site", "Cabinet du Parc (nouveau)")
    awkward = [[home], [cabinet, home, cabinet], [cabinet, moved, home], [moved, cabinet]]
    snapshot_people = grouped(record.values for record in records(snapshot.path))
    assert any(len(lines) > 1 for lines in snapshot_people)

    for lines in [*snapshot_people, *awkward]:
        person = professional_from(lines)
        assert rows.professional_row_from(lines) == (rows.professional_row(person), person.sites)


def site(key: str) -> Organisation:
    """An organisation known only by its key."""
    values = dict.fromkeys(Organisation.__slots__, "")
    return Organisation(**{**values, "key": key, "fingerprint": key + "-fp"})


def test_it_remembers_recent_organisations_within_a_bound():
    recent = RecentOrganisations(size=2)
    chu, clinic, pharmacy = site("finess:1"), site("finess:2"), site("finess:3")

    seen = [recent.is_new(org) for org in (chu, clinic, chu, pharmacy, clinic, chu)]

    assert seen == [True, True, False, True, True, True]


def test_it_sees_an_organisation_again_when_its_content_changed():
    recent = RecentOrganisations()
    chu = site("finess:1")

    assert recent.is_new(chu)
    assert recent.is_new(replace(chu, fingerprint="moved"))
    assert not recent.is_new(replace(chu, fingerprint="moved"))


def test_it_turns_each_mailbox_line_into_a_mailbox(snapshot):
    boxes = list(mailboxes(records(snapshot.mssante_path)))

    assert len(boxes) == snapshot.mailboxes
    assert all(box.address == box.address.lower() for box in boxes)
    assert len({box.address for box in boxes}) == len(boxes)
    personal = next(box for box in boxes if box.kind == "PER")
    assert personal.owner_national_id.startswith(("8", "0"))


def test_staged_rows_read_back_as_the_records_they_were_made_from(snapshot):
    people = list(professionals(records(snapshot.path)))
    odd = replace(people[0], family_name="D'Artagnan \"dit\" \\ l'Aîné", given_name="")

    for person in [*people, odd]:
        key, print_, data = rows.professional_row(person)
        back = rows.decode_professional(key, data, print_)
        assert back == replace(person, sites=())
        for site in person.sites:
            org = site.organisation()
            key, print_, data = rows.site_row(site)
            assert (key, print_, data) == rows.organisation_row(org)
            assert rows.decode_organisation(key, data, print_) == org
    for box in mailboxes(records(snapshot.mssante_path)):
        key, print_, data = rows.mailbox_row(box)
        assert rows.decode_mailbox(key, data, print_) == box
