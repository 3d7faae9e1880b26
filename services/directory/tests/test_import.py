"""Imports of national extracts: exact counts, change detection, events, failure safety."""

import gc
import zipfile

import pytest
import sqlalchemy as sa
from directory.extract import batches, generate
from directory.imports import ImportFailed, entities, jobs, run_import
from directory.models import (
    ImportRejection,
    ImportRun,
    ImportStaging,
    Mailbox,
    Organization,
    Practitioner,
    PractitionerRole,
)
from servicekit import db
from servicekit.testing import emitted
from stdnum import luhn

BROKEN = {5: "column-count", 9: "bad-rpps", 14: "invalid-utf8", 20: "empty-name", 27: "rpps-key"}
PRACTITIONER_EVENTS = "fr.enrs.directory.practitioner."


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """A 300-line regional snapshot with one line of each kind of breakage."""
    folder = tmp_path_factory.mktemp("snapshot")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 300, seed=7, broken=BROKEN)


def import_file(app, path, kind="ps"):
    """Run one import to its end, as the worker does; the run and the changes."""
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, kind, path.name, str(path), "test")
        session.commit()
        changes = run_import(session, run, app.config["IMPORT_BATCH_SIZE"])
        session.expunge(run)
        return run, changes


def event_types(db_session, prefix=PRACTITIONER_EVENTS):
    return [event.type for event in emitted(db_session) if event.type.startswith(prefix)]


def people_lines(path):
    """{national id: [its lines]} of a generated extract, in file order."""
    people = {}
    for line in path.read_bytes().splitlines(keepends=True)[1:]:
        people.setdefault(line.split(b"|")[2], []).append(line)
    return people


def test_it_counts_exactly_the_lines_imported_rejected_and_warned(app, snapshot, db_session):
    run, _ = import_file(app, snapshot.path)

    assert snapshot.lines_by_profession["21"] > 0  # pharmacists, known professionals too
    assert (run.status, run.lines, run.rejected) == ("done", 300, 4)
    assert run.imported == 296
    assert run.warned == 1  # the wrong RPPS check key
    assert run.bytes_read == run.bytes_total == snapshot.path.stat().st_size


def test_it_reports_each_rejected_line_with_its_column_and_reason(app, snapshot, db_session):
    run, _ = import_file(app, snapshot.path)

    errors = db_session.scalars(
        sa.select(ImportRejection)
        .where(ImportRejection.run_id == run.id, ImportRejection.severity == "error")
        .order_by(ImportRejection.line)
    ).all()
    assert [row.line for row in errors] == [5, 9, 14, 20]
    assert "nombre de colonnes" in errors[0].reason
    assert errors[1].column == "Identifiant PP"
    assert "UTF-8" in errors[2].reason
    assert errors[3].column == "Nom d'exercice"
    key_warning = db_session.scalars(
        sa.select(ImportRejection).where(ImportRejection.line == 27)
    ).one()
    assert key_warning.severity == "warning"


def test_it_creates_one_practitioner_per_professional_with_events(app, snapshot, db_session):
    run, changes = import_file(app, snapshot.path)

    people = len(people_lines(snapshot.path)) - 4  # the four rejected lines are people of their own
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Practitioner)) == people
    assert (
        changes["practitioner.created"] == people == run.created - changes["organization.created"]
    )
    assert event_types(db_session) == [PRACTITIONER_EVENTS + "created"] * people
    organizations = db_session.scalar(sa.select(sa.func.count()).select_from(Organization))
    assert changes["organization.created"] == organizations > 0


def test_it_stores_searchable_names_and_one_role_per_activity(app, snapshot, db_session):
    import_file(app, snapshot.path)

    lefevres = db_session.scalars(sa.select(Practitioner).where(Practitioner.family == "Lefèvre"))
    assert {person.family_search for person in lefevres} == {"lefevre"}
    roles = db_session.scalar(sa.select(sa.func.count()).select_from(PractitionerRole))
    assert 0 < roles <= 296
    specialists = db_session.scalars(
        sa.select(PractitionerRole).where(PractitionerRole.savoir_faire_code == "SM54")
    ).first()
    assert specialists.savoir_faire_system.startswith("urn:oid:1.2.250.1.213.2.")


def test_it_changes_nothing_and_emits_nothing_when_the_same_file_comes_again(
    app, snapshot, db_session
):
    import_file(app, snapshot.path)
    before = len(emitted(db_session))
    stamps = db_session.execute(sa.select(Practitioner.id, Practitioner.updated_at)).all()

    again, changes = import_file(app, snapshot.path)

    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
    assert sum(changes.values()) == 0
    assert len(emitted(db_session)) == before
    db_session.expire_all()
    assert db_session.execute(sa.select(Practitioner.id, Practitioner.updated_at)).all() == stamps
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ImportStaging)) == 0


SITE = 23  # column "Identifiant technique de la structure", filled on every generated line


def newer_snapshot(snapshot, path):
    """The snapshot with one professional gone, one renamed and one newcomer; their ids."""
    people = people_lines(snapshot.path)
    users = {}
    for nid, lines in people.items():
        for line in lines:
            users.setdefault(line.split(b"|")[SITE], set()).add(nid)
    lines = snapshot.path.read_bytes().splitlines(keepends=True)
    spoiled = {lines[number - 1].split(b"|")[2] for number in BROKEN}
    rpps = [n for n in people if n.startswith(b"8") and len(people[n]) == 1 and n not in spoiled]
    # The one who leaves shares their site with others: no organisation leaves with them.
    gone = next(nid for nid in rpps if len(users[people[nid][0].split(b"|")[SITE]]) > 1)
    renamed = next(nid for nid in rpps if nid != gone)
    newcomer = _with_fields(people[renamed][0], {0: b"8", 1: NEW_RPPS, 2: b"8" + NEW_RPPS})
    people.pop(gone)
    people[renamed] = [
        _with_fields(line, {7: "Lefèvre-Nouvel".encode()}) for line in people[renamed]
    ]
    header = lines[0]
    body = b"".join(line for lines in people.values() for line in lines)
    path.write_bytes(header + body + newcomer)
    return gone.decode(), renamed.decode(), (b"8" + NEW_RPPS).decode()


NEW_RPPS = b"1999999999" + luhn.calc_check_digit("1999999999").encode()


def _with_fields(line, values):
    fields = line.split(b"|")
    for index, value in values.items():
        fields[index] = value
    return b"|".join(fields)


def events_about(db_session, national_id):
    return [
        (event.type.rsplit(".", 1)[1], event.data["active"])
        for event in emitted(db_session)
        if event.type.startswith(PRACTITIONER_EVENTS) and event.data["national_id"] == national_id
    ]


def test_it_emits_exactly_the_differences_of_a_newer_snapshot(app, snapshot, db_session, tmp_path):
    import_file(app, snapshot.path)
    first = len(emitted(db_session))
    gone, renamed, newcomer = newer_snapshot(snapshot, tmp_path / "newer.txt")

    run, _ = import_file(app, tmp_path / "newer.txt")

    new_events = emitted(db_session)[first:]
    assert sorted(
        (e.type.rsplit(".", 2)[1], e.data.get("national_id")) for e in new_events
    ) == sorted([("practitioner", newcomer), ("practitioner", renamed), ("practitioner", gone)])
    assert events_about(db_session, gone)[-1] == ("deactivated", False)
    assert events_about(db_session, renamed)[-1] == ("updated", True)
    assert events_about(db_session, newcomer) == [("created", True)]
    assert (run.created, run.updated, run.deactivated) == (1, 1, 1)


def test_it_deactivates_but_never_deletes_a_professional_who_left(
    app, snapshot, db_session, tmp_path
):
    import_file(app, snapshot.path)
    gone, renamed, _ = newer_snapshot(snapshot, tmp_path / "newer.txt")

    import_file(app, tmp_path / "newer.txt")

    person = db_session.scalars(
        sa.select(Practitioner).where(Practitioner.national_id == gone)
    ).one()
    assert (person.active, person.deactivated_at is not None) == (False, True)
    roles = db_session.scalars(
        sa.select(PractitionerRole.active).where(PractitionerRole.practitioner_id == person.id)
    ).all()
    assert roles and not any(roles)
    moved = db_session.scalars(sa.select(Practitioner).where(Practitioner.national_id == renamed))
    assert [p.family_search for p in moved] == ["lefevre nouvel"]


def _role_names(db_session, national_id):
    """The name keys each role of a professional carries, and their practitioner's."""
    query = (
        sa.select(
            PractitionerRole.family_search,
            PractitionerRole.given_search,
            Practitioner.family_search,
            Practitioner.given_search,
        )
        .join(Practitioner)
        .where(Practitioner.national_id == national_id)
    )
    return db_session.execute(query).all()


def test_roles_carry_their_practitioners_name_keys_through_a_rename(
    app, snapshot, db_session, tmp_path
):
    import_file(app, snapshot.path)
    copies = db_session.execute(
        sa.select(PractitionerRole.family_search, Practitioner.family_search).join(Practitioner)
    ).all()
    assert copies and all(role == person for role, person in copies)
    _, renamed, _ = newer_snapshot(snapshot, tmp_path / "newer.txt")
    before = _role_names(db_session, renamed)

    import_file(app, tmp_path / "newer.txt")

    db_session.expire_all()
    after = _role_names(db_session, renamed)
    assert len(after) == len(before) >= 1
    assert {row[0] for row in before} != {"lefevre nouvel"}
    assert all(row[0] == row[2] == "lefevre nouvel" and row[1] == row[3] for row in after)


def test_a_snapshot_that_keeps_few_deactivates_all_the_others_once(
    app, snapshot, db_session, tmp_path
):
    import_file(app, snapshot.path)
    header, *lines = snapshot.path.read_bytes().splitlines(keepends=True)
    kept = lines[0].split(b"|")[2]
    few = tmp_path / "few.txt"
    few.write_bytes(header + b"".join(line for line in lines if line.split(b"|")[2] == kept))
    stored = db_session.scalar(sa.select(sa.func.count()).select_from(Practitioner))

    with app.app_context(), db.sessions() as session:  # many chunks of 7
        run = jobs.queue(session, "ps", few.name, str(few), "test")
        changes = run_import(session, run, 7)

    assert changes["practitioner.deactivated"] == stored - 1
    deactivated = [t for t in event_types(db_session) if t.endswith(".deactivated")]
    assert len(deactivated) == stored - 1
    active = db_session.scalars(sa.select(Practitioner.national_id).where(Practitioner.active))
    assert list(active) == [kept.decode()]


def test_it_reactivates_a_professional_who_comes_back(app, snapshot, db_session, tmp_path):
    import_file(app, snapshot.path)
    gone, _, _ = newer_snapshot(snapshot, tmp_path / "newer.txt")
    import_file(app, tmp_path / "newer.txt")

    import_file(app, snapshot.path)

    assert events_about(db_session, gone)[-1] == ("updated", True)
    person = db_session.scalars(
        sa.select(Practitioner).where(Practitioner.national_id == gone)
    ).one()
    assert (person.active, person.deactivated_at) == (True, None)


def test_an_import_leaves_postgresql_fresh_statistics_and_visible_pages(app, snapshot, db_session):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("statistics are taken on PostgreSQL only")
    import_file(app, snapshot.path)

    stored = db_session.scalar(sa.select(sa.func.count()).select_from(PractitionerRole))
    estimated = db_session.scalar(
        sa.text("SELECT reltuples FROM pg_class WHERE relname = 'practitioner_roles'")
    )
    assert estimated == stored  # ANALYZE reads every row of a small table
    # VACUUM marked the pages all-visible: a search's index-only scan reads no table row.
    visible = db_session.execute(
        sa.text("SELECT relallvisible, relpages FROM pg_class WHERE relname = 'practitioners'")
    ).one()
    assert visible.relpages > 0
    assert visible.relallvisible == visible.relpages


def test_a_zip_that_breaks_midway_fails_and_deactivates_nobody(app, snapshot, db_session, tmp_path):
    import_file(app, snapshot.path)
    before = len(emitted(db_session))
    broken = tmp_path / "PS_LibreAcces.zip"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PS_LibreAcces_Personne_activite.txt", snapshot.path.read_bytes()[:40000])
    spoil_the_middle_of(broken)

    with pytest.raises(ImportFailed):
        import_file(app, broken)

    failed = db_session.scalars(sa.select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert failed.status == "failed" and failed.error
    assert len(emitted(db_session)) == before
    assert not db_session.scalar(sa.select(sa.func.count()).where(Practitioner.active.is_(False)))
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ImportStaging)) == 0


def spoil_the_middle_of(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


def test_a_file_cut_mid_line_fails_and_deactivates_nobody(app, snapshot, db_session, tmp_path):
    import_file(app, snapshot.path)
    cut = tmp_path / "cut.txt"
    cut.write_bytes(snapshot.path.read_bytes()[:20000])

    with pytest.raises(ImportFailed, match="tronqué"):
        import_file(app, cut)

    assert not db_session.scalar(sa.select(sa.func.count()).where(Practitioner.active.is_(False)))


def test_it_imports_mailboxes_and_links_them_to_their_owners(app, snapshot, db_session):
    import_file(app, snapshot.path)

    run, changes = import_file(app, snapshot.mssante_path, kind="mssante")
    again, _ = import_file(app, snapshot.mssante_path, kind="mssante")

    boxes = db_session.scalars(sa.select(Mailbox)).all()
    assert run.status == "done" and changes["mailbox.created"] == len(boxes) == run.imported
    personal = [box for box in boxes if box.kind == "PER"]
    assert personal and all(box.practitioner_id is not None for box in personal)
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)


def test_mailboxes_imported_before_their_owners_are_linked_when_they_come(
    app, snapshot, db_session
):
    import_file(app, snapshot.mssante_path, kind="mssante")
    waiting = db_session.scalars(sa.select(Mailbox)).all()
    assert waiting and all(box.practitioner_id is None for box in waiting)
    assert all(box.organization_id is None for box in waiting)

    import_file(app, snapshot.path)

    db_session.expire_all()
    boxes = db_session.scalars(sa.select(Mailbox)).all()
    personal = [box for box in boxes if box.kind == "PER"]
    assert personal and all(box.practitioner_id is not None for box in personal)
    for box in personal:
        owner = db_session.get(Practitioner, box.practitioner_id)
        assert owner.national_id == box.owner_national_id
    sited = [box for box in boxes if box.organization_id is not None]
    assert sited, "every mailbox still waits for its organisation"
    for box in sited:
        site = db_session.get(Organization, box.organization_id)
        assert site.key == entities.structure_key(box.structure_id)


def test_the_command_imports_a_file_and_prints_the_counts(app, runner, snapshot):
    result = runner.invoke(args=["import", str(snapshot.path)])

    assert result.exit_code == 0, result.output
    assert "300 lines, 296 imported, 4 rejected" in result.output


def test_the_command_refuses_a_file_that_is_no_extract(app, runner, tmp_path):
    odd = tmp_path / "notes.txt"
    odd.write_text("bonjour|le|monde\n", encoding="utf-8")

    result = runner.invoke(args=["import", str(odd)])

    assert result.exit_code == 1
    assert "format d'extraction non reconnu" in result.output


def test_the_command_generates_an_extract_and_its_mailboxes(app, runner, tmp_path):
    out, mss = tmp_path / "ps.txt", tmp_path / "mss.txt"

    result = runner.invoke(
        args=[
            "generate-extract",
            "--rows",
            "40",
            "--seed",
            "2",
            "--out",
            str(out),
            "--mssante",
            str(mss),
        ]
    )

    assert result.exit_code == 0, result.output
    assert len(out.read_bytes().splitlines()) == 41
    assert mss.stat().st_size > 0


def test_it_commits_progress_batch_by_batch_while_reading(app, snapshot):
    seen = []
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", snapshot.path.name, str(snapshot.path), "test")
        session.commit()
        run_import(session, run, 50, on_batch=lambda run: seen.append((run.bytes_read, run.lines)))

    assert len(seen) > 2
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert seen[-1][0] <= snapshot.path.stat().st_size


def test_the_garbage_collector_runs_less_often_during_an_import_only(app, snapshot):
    before = gc.get_threshold()
    during = []
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", snapshot.path.name, str(snapshot.path), "test")
        session.commit()
        run_import(session, run, 50, on_batch=lambda run: during.append(gc.get_threshold()))

    assert during and all(
        threshold == (batches.YOUNG_COLLECTION_EVERY, *before[1:]) for threshold in during
    )
    assert before[0] < batches.YOUNG_COLLECTION_EVERY
    assert gc.get_threshold() == before
