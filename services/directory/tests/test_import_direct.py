"""A large first import is written as it is read: the same rows, runs and events as staging
them first, each change once even if its worker dies, nothing written from a file cut short."""

import datetime as dt

import pytest
import sqlalchemy as sa
from directory.extract import generate, records
from directory.imports import ImportFailed, apply, jobs, run_import, runner, staging
from directory.models import (
    Base,
    ImportRejection,
    ImportRun,
    ImportStaging,
    Organization,
    Practitioner,
    PractitionerRole,
)
from servicekit import db
from servicekit.migrations import differences, upgrade
from servicekit.models import OutboxEvent, utcnow
from servicekit.testing import emitted

BROKEN = {5: "column-count", 9: "bad-rpps", 14: "invalid-utf8", 20: "empty-name", 27: "rpps-key"}
BATCH = 20
CREATED = "fr.enrs.directory.practitioner.created"


class WorkerDied(BaseException):
    """A worker stopping between two commits, as after a SIGKILL (see test_import_recovery)."""


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    """300 lines with broken ones; professionals with several activities among them."""
    folder = tmp_path_factory.mktemp("direct")
    return generate(folder / "PS_LibreAcces_Personne_activite.txt", 300, seed=5, broken=BROKEN)


@pytest.fixture
def direct(monkeypatch):
    """Every plain file counts as large: a first import takes the direct path."""
    monkeypatch.setattr(runner, "DIRECT_MIN_BYTES", 0)


def import_file(app, path, batch_size=BATCH):
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", path.name, str(path), "test")
        session.commit()
        changes = run_import(session, run, batch_size)
        session.expunge(run)
        return run, changes


def stored(session) -> dict:
    """What an import left, without the ids and times it drew."""
    org_keys = dict(session.execute(sa.select(Organization.id, Organization.key)).all())
    people = dict(session.execute(sa.select(Practitioner.id, Practitioner.national_id)).all())
    skip = {"id", "created_at", "updated_at", "practitioner_id", "organization_id"}

    def rows(model, key):
        table = model.__table__
        found = []
        for row in session.execute(sa.select(table)).mappings():
            values = {name: value for name, value in row.items() if name not in skip}
            found.append((key(row), sorted(values.items())))
        return sorted(found, key=repr)

    def event(item):
        data = {name: value for name, value in item.data.items() if name != "id"}
        return item.type, item.subject == item.data["id"], sorted(data.items())

    rejections = session.execute(
        sa.select(ImportRejection.line, ImportRejection.column, ImportRejection.severity)
    ).all()
    run = session.execute(  # the last one
        sa.select(ImportRun.lines, ImportRun.imported, ImportRun.rejected, ImportRun.warned)
        .order_by(ImportRun.id.desc())
        .limit(1)
    ).one()
    return {
        "organizations": rows(Organization, lambda row: row["key"]),
        "practitioners": rows(Practitioner, lambda row: row["national_id"]),
        "roles": rows(
            PractitionerRole,
            lambda row: (people[row["practitioner_id"]], org_keys.get(row["organization_id"])),
        ),
        "events": sorted((event(item) for item in emitted(session)), key=repr),
        "rejections": sorted(rejections, key=repr),
        "run": tuple(run),
    }


def emptied(session) -> None:
    for model in (ImportRejection, ImportRun, PractitionerRole, Practitioner, Organization):
        session.execute(sa.delete(model))
    session.execute(sa.delete(OutboxEvent))
    session.commit()


def staged_instead(monkeypatch):
    monkeypatch.setattr(runner, "DIRECT_MIN_BYTES", 1 << 62)


def imported_again_staged(app, session, monkeypatch, path) -> dict:
    """The changes of importing path again into an emptied directory, staged this time."""
    emptied(session)
    staged_instead(monkeypatch)
    _, changes = import_file(app, path)
    return changes


def test_a_first_import_written_as_read_stores_what_a_staged_one_stores(
    app, extract, db_session, direct, monkeypatch
):
    _, changes = import_file(app, extract.path)
    written = stored(db_session)
    staged_changes = imported_again_staged(app, db_session, monkeypatch, extract.path)

    assert written == stored(db_session)
    assert changes == staged_changes
    assert changes["practitioner.created"] > 200


def test_a_first_import_written_as_read_stages_nothing(
    app, extract, db_session, direct, monkeypatch
):
    def refused(*args, **kwargs):
        raise AssertionError("staged")

    monkeypatch.setattr(staging, "upsert", refused)
    run, _ = import_file(app, extract.path)

    assert run.status == "done" and run.created > extract.professionals  # and the organisations
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ImportStaging)) == 0


def scattered(extract, path):
    """The extract with the first line of each professional of several lines moved to the end:
    their lines come in two runs, in batches far apart."""
    header, *lines = extract.path.read_bytes().splitlines(keepends=True)
    ids = [line.split(b"|")[2] for line in lines]
    moved = {index for index, nid in enumerate(ids) if ids.count(nid) > 1 and ids[index - 1] != nid}
    assert len(moved) > 5
    kept = [line for index, line in enumerate(lines) if index not in moved]
    path.write_bytes(header + b"".join(kept) + b"".join(lines[index] for index in sorted(moved)))
    return path


def test_a_professional_whose_lines_come_apart_is_written_once_whole(
    app, extract, db_session, direct, monkeypatch, tmp_path
):
    apart = scattered(extract, tmp_path / "apart.txt")
    _, changes = import_file(app, apart)
    written = stored(db_session)
    staged_changes = imported_again_staged(app, db_session, monkeypatch, apart)

    assert written == stored(db_session)
    assert changes == staged_changes
    assert not [event for event in emitted(db_session) if event.type.endswith(".updated")]
    _, again = import_file(app, extract.path)  # the same snapshot, lines in their usual order
    assert sum(again.values()) == 0


def test_a_first_import_whose_worker_died_is_completed_each_change_once(
    app, extract, db_session, direct, monkeypatch, index_names
):
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", extract.path.name, str(extract.path), "test")
        session.commit()
        run_id = run.id
    original, calls = apply.write_into_empty, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise WorkerDied
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(apply, "write_into_empty", dying)
        patch.setattr(runner, "FILLING_COMMIT_EVERY", 1)
        with pytest.raises(WorkerDied):
            jobs.run_queued(app)
    written = db_session.scalar(sa.select(sa.func.count()).select_from(Practitioner))
    assert 0 < written < extract.professionals - len(BROKEN)
    assert len(emitted(db_session, CREATED)) == written
    assert {index.name for index in apply.search_indexes()} <= index_names()

    db_session.execute(sa.update(ImportRun).values(heartbeat_at=utcnow() - dt.timedelta(hours=1)))
    db_session.commit()
    assert jobs.run_queued(app) == 1

    db_session.expire_all()
    run = db_session.get(ImportRun, run_id)
    assert (run.status, run.attempts, run.deactivated) == ("done", 2, 0)
    everyone = db_session.scalar(sa.select(sa.func.count()).select_from(Practitioner))
    assert everyone > written and len(emitted(db_session, CREATED)) == everyone
    assert differences(app, Base.metadata) == []


def test_a_file_cut_mid_line_fails_before_anything_is_written(
    app, extract, db_session, direct, tmp_path
):
    cut = tmp_path / "cut.txt"
    cut.write_bytes(extract.path.read_bytes()[:20000])

    with pytest.raises(ImportFailed, match="tronqué"):
        import_file(app, cut)

    assert db_session.scalar(sa.select(sa.func.count()).select_from(Practitioner)) == 0
    assert emitted(db_session) == []


def site_renamed_at_the_end(extract, path):
    """The extract with its last line moved to the first line's site under another name: the
    site comes again, changed, in a batch far from its first."""
    header, *lines = extract.path.read_bytes().splitlines(keepends=True)
    columns = header.decode().rstrip("\n").split("|")
    site = [columns.index(name) for name in records.ORGANISATION_COLUMNS]
    first = lines[0].split(b"|")
    assert first[columns.index("Numéro FINESS site")] or first[columns.index("Numéro SIRET site")]
    last = lines[-1].split(b"|")
    for index in site:
        last[index] = first[index]
    last[columns.index("Raison sociale site")] = "Centre hospitalier renommé".encode()
    path.write_bytes(header + b"".join(lines[:-1]) + b"|".join(last))
    return path


def last_event_of_each_organisation(session) -> dict:
    found = {}
    for event in emitted(session):
        if event.type.startswith("fr.enrs.directory.organization."):
            found[event.data["key"]] = (event.data["name"], event.data["active"])
    return found


def test_a_site_sent_again_changed_ends_in_its_last_content_as_when_staged(
    app, extract, db_session, direct, monkeypatch, tmp_path
):
    renamed = site_renamed_at_the_end(extract, tmp_path / "renamed.txt")
    _, changes = import_file(app, renamed)
    written = stored(db_session)
    events = last_event_of_each_organisation(db_session)
    names = dict(db_session.execute(sa.select(Organization.key, Organization.name)).all())

    assert "Centre hospitalier renommé" in names.values()
    assert events == {key: (name, True) for key, name in names.items()}
    assert changes["organization.updated"] == 1  # created under its first name, then renamed

    staged_changes = imported_again_staged(app, db_session, monkeypatch, renamed)
    assert stored(db_session)["organizations"] == written["organizations"]
    assert last_event_of_each_organisation(db_session) == events
    assert staged_changes["organization.created"] == changes["organization.created"]


def test_the_seen_keys_never_miss_one_and_seldom_name_another():
    written = staging.SeenKeys()
    keys = [f"8{number:011d}" for number in range(20_000)]
    others = [f"0{number:09d}" for number in range(20_000)]
    written.add(keys)

    assert written.among(keys) == keys
    assert len(written.among(others)) < len(others) // 100
    tiny = staging.SeenKeys(bits=8)  # every bit set soon: all may have been written
    tiny.add(keys[:50])
    assert tiny.among(keys[:50]) == keys[:50] and tiny.among(others[:5]) == others[:5]


@pytest.mark.parametrize("path", ["direct", "staged"])
def test_roles_keep_their_organisation_when_the_known_ones_are_forgotten(
    app, extract, db_session, monkeypatch, path
):
    # The ids of the organisations met are remembered up to a bound, then forgotten at once:
    # a role whose organisation was remembered until then must still get its id.
    monkeypatch.setattr(runner, "DIRECT_MIN_BYTES", 0 if path == "direct" else 1 << 62)
    import_file(app, extract.path)
    remembering = stored(db_session)
    emptied(db_session)
    monkeypatch.setattr(apply, "KNOWN_ORGANIZATIONS", 3)

    import_file(app, extract.path)

    assert stored(db_session) == remembering
    assert any(organisation for (_person, organisation), _row in remembering["roles"])


def test_roles_left_without_their_organisation_get_it_back_at_the_next_import(
    app_factory, settings, tmp_path, extract
):
    # Imports before decision 59 could leave a role without its organisation; the
    # practitioners concerned are compared again by the next import, which links them.
    older = app_factory(settings | {"DATABASE_URL": f"sqlite:///{tmp_path / 'older.db'}"})
    upgrade(older, "0011_rpps_by_national_id")
    import_file(older, extract.path)
    with older.app_context(), db.sessions() as session:
        whole = stored(session)
        linked = sa.select(PractitionerRole.id).where(PractitionerRole.organization_id.isnot(None))
        spoiled = session.scalars(linked.limit(5)).all()
        session.execute(
            sa.update(PractitionerRole)
            .where(PractitionerRole.id.in_(spoiled))
            .values(organization_id=None)
        )
        session.commit()
        assert stored(session)["roles"] != whole["roles"]
        placeless = sa.select(sa.func.count(PractitionerRole.practitioner_id.distinct())).where(
            PractitionerRole.active.is_(True), PractitionerRole.organization_id.is_(None)
        )
        compared_again = session.scalar(placeless)

    upgrade(older)
    _, changes = import_file(older, extract.path)

    with older.app_context(), db.sessions() as session:
        assert stored(session)["roles"] == whole["roles"]
    assert changes["practitioner.updated"] == compared_again > 0


def test_a_first_import_commits_every_few_batches(app, extract, direct, monkeypatch):
    monkeypatch.setattr(runner, "FILLING_COMMIT_EVERY", 2)
    engine = db.database(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL, taking statistics commits too (batches 1, 2, 4...)")
    seen = []  # (lines read, lines committed) after each batch

    def committed(run):
        with engine.connect() as other:
            lines = other.scalar(sa.select(ImportRun.lines).where(ImportRun.id == run.id))
        seen.append((run.lines, lines))

    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", extract.path.name, str(extract.path), "test")
        session.commit()
        run_import(session, run, 40, on_batch=committed)

    assert len(seen) >= 4
    for number, (read, lines) in enumerate(seen, 1):
        assert lines == (read if number % 2 == 0 else seen[number - 2][0] if number > 1 else 0)
