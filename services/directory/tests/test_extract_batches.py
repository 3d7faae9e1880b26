"""A large extract is read by child processes: same batches, same errors, no orphan left."""

import gc
import multiprocessing
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest
import sqlalchemy as sa
from directory.extract import ExtractError, generate
from directory.extract import batches as extract_batches
from directory.imports import jobs, run_import, staging
from directory.models import ImportStaging, Practitioner, PractitionerRole
from servicekit import db
from servicekit.testing import emitted, eventually

BROKEN = {5: "column-count", 9: "bad-rpps", 14: "invalid-utf8", 20: "empty-name"}


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    """400 lines with broken ones, and its MSSanté file."""
    folder = tmp_path_factory.mktemp("batches")
    generated = generate(
        folder / "PS_LibreAcces_Personne_activite.txt",
        400,
        seed=11,
        broken=BROKEN,
        mssante_path=folder / "Extraction_Correspondance_MSSante.txt",
    )
    with open(generated.mssante_path, "a", encoding="utf-8") as mailboxes:
        mailboxes.write("PER|une-ligne-tronquee|\n")  # a rejected line in the last batch
    return generated


@pytest.fixture
def in_child(monkeypatch):
    """Every file, however small, read by a child process."""
    monkeypatch.setattr(extract_batches, "CHILD_READER_MIN_BYTES", 0)


def as_lists(batches):
    return [
        (batch.rows, batch.organisations, batch.problems, vars(batch.stats)) for batch in batches
    ]


@pytest.mark.parametrize("kind", ["ps", "mssante"])
def test_one_child_sends_the_batches_read_in_process(extract, kind):
    path = str(extract.path if kind == "ps" else extract.mssante_path)

    by_child = as_lists(extract_batches._from_children(path, kind, 60, parts=1))

    assert by_child == as_lists(extract_batches.read(path, kind, 60))
    assert len(by_child) > 3
    assert by_child[-1][3]["lines"] > 0  # the counts travel with the batches,
    assert any(problems for _rows, _organisations, problems, _stats in by_child)  # the rejections


def merged_by_key(batches):
    rows = {}
    for batch in batches:
        for row in batch.rows:
            rows[row[0]] = staging._merged(rows[row[0]], row) if row[0] in rows else row
    return rows


@pytest.mark.parametrize("parts", [2, 3])
def test_children_reading_parts_send_what_one_reader_sends(extract, parts):
    path = str(extract.path)
    alone = list(extract_batches.read(path, "ps", 40))

    together = list(extract_batches._from_children(path, "ps", 40, parts))

    assert merged_by_key(together) == merged_by_key(alone)
    problems = sorted((p for batch in together for p in batch.problems), key=lambda p: p["line"])
    assert problems == [p for batch in alone for p in batch.problems]
    organisations = {row for batch in together for row in batch.organisations}
    assert organisations == {row for batch in alone for row in batch.organisations}
    assert vars(together[-1].stats) == vars(alone[-1].stats)
    assert together[-1].stats.bytes_read == extract.path.stat().st_size


def test_a_small_file_is_read_in_process_and_a_large_one_by_a_child(extract, monkeypatch):
    spawned = []
    original = multiprocessing.get_context

    def counting(method):
        spawned.append(method)
        return original(method)

    monkeypatch.setattr(extract_batches.multiprocessing, "get_context", counting)
    list(extract_batches.batches(str(extract.path), "ps", 100))
    assert spawned == []

    monkeypatch.setattr(extract_batches, "CHILD_READER_MIN_BYTES", extract.path.stat().st_size)
    list(extract_batches.batches(str(extract.path), "ps", 100))
    assert spawned == ["spawn"]


def test_the_files_own_errors_come_back_from_the_child(tmp_path, in_child):
    headless = tmp_path / "empty.txt"
    headless.write_bytes(b"")

    with pytest.raises(ExtractError, match="fichier vide"):
        list(extract_batches.batches(str(headless), "ps", 100))


def test_a_broken_zip_fails_in_the_child_as_in_process(extract, tmp_path, in_child):
    broken = tmp_path / "PS_LibreAcces.zip"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PS_LibreAcces_Personne_activite.txt", extract.path.read_bytes())
    data = bytearray(broken.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    broken.write_bytes(bytes(data))

    with pytest.raises(extract_batches.TRAVELLING) as in_process:
        list(extract_batches.read(str(broken), "ps", 100))
    with pytest.raises(extract_batches.TRAVELLING) as from_child:
        list(extract_batches.batches(str(broken), "ps", 100))

    assert type(from_child.value) is type(in_process.value)
    assert str(from_child.value) == str(in_process.value)


def test_a_reader_killed_midway_stops_the_import_with_a_clear_error(extract, in_child):
    batches = extract_batches.batches(str(extract.path), "ps", 10)
    next(batches)
    first, second = multiprocessing.active_children()
    first.kill()

    stopped = "lecture de l'extraction s'est arrêtée"
    with pytest.raises(extract_batches.ReaderStopped, match=stopped):
        for _ in batches:
            pass
    assert not first.is_alive() and not second.is_alive()


def test_the_reader_exits_when_its_importer_dies(extract, tmp_path):
    # An importer that takes one batch, prints its readers' pids and is killed: the readers,
    # with nobody to read what they send, must not outlive it.
    script = textwrap.dedent(
        f"""
        import multiprocessing, os, sys
        from directory.extract import batches as extract_batches
        extract_batches.CHILD_READER_MIN_BYTES = 0
        extract_batches.LIVENESS_SECONDS = 0.2
        batches = extract_batches.batches({str(extract.path)!r}, "ps", 5)
        next(batches)
        print(*(child.pid for child in multiprocessing.active_children()), flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    importer = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    readers = [int(pid) for pid in importer.stdout.split()]

    assert len(readers) == extract_batches.READERS
    eventually(lambda: all(map(_gone, readers)), timeout=30, message="a reader outlived it")


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (an orphan waits there for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def import_file(app, path):
    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", path.name, str(path), "test")
        session.commit()
        changes = run_import(session, run, 50)
        session.expunge(run)
        return run, changes


def newer_snapshot(extract, path):
    """The extract without its last professional and with the first one renamed."""
    header, *lines = extract.path.read_bytes().splitlines(keepends=True)
    ids = [line.split(b"|")[2] for line in lines]
    first, last = ids[0], ids[-1]
    kept = [
        _renamed(line) if nid == first else line
        for nid, line in zip(ids, lines, strict=True)
        if nid != last
    ]
    path.write_bytes(header + b"".join(kept))
    return path


def _renamed(line: bytes) -> bytes:
    fields = line.split(b"|")
    fields[7] = "Lefèvre-Nouvel".encode()  # Nom d'exercice
    return b"|".join(fields)


def test_an_import_read_by_a_child_writes_what_one_read_in_process_writes(
    app, extract, db_session, tmp_path, monkeypatch
):
    run, changes = import_file(app, extract.path)
    newer = newer_snapshot(extract, tmp_path / "newer.txt")
    monkeypatch.setattr(extract_batches, "CHILD_READER_MIN_BYTES", 0)

    again, _ = import_file(app, extract.path)
    _, newer_changes = import_file(app, newer)

    assert (run.lines, run.rejected, run.warned) == (again.lines, again.rejected, again.warned)
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
    stored = db_session.scalar(sa.select(sa.func.count()).select_from(Practitioner))
    assert changes["practitioner.created"] == stored
    assert (newer_changes["practitioner.updated"], newer_changes["practitioner.deactivated"]) == (
        1,
        1,
    )
    assert newer_changes["practitioner.created"] == 0
    assert db_session.scalar(sa.select(sa.func.count()).where(PractitionerRole.active)) > 0
    assert len(emitted(db_session)) == sum(changes.values()) + sum(newer_changes.values())


def staged_marks(session, run_id):
    query = sa.select(ImportStaging.key, ImportStaging.unchanged).where(
        ImportStaging.run_id == run_id, ImportStaging.entity == staging.PRACTITIONER
    )
    return {key: bool(unchanged) for key, unchanged in session.execute(query)}


def test_staging_marks_the_professionals_stored_unchanged(app, extract, tmp_path):
    import_file(app, extract.path)
    newer = newer_snapshot(extract, tmp_path / "newer.txt")
    renamed = newer.read_bytes().splitlines()[1].split(b"|")[2].decode()

    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", newer.name, str(newer), "test")
        for batch in extract_batches.read(str(newer), "ps", 50):
            staging.stage_professionals(session, run.id, batch.rows)
        marks = staged_marks(session, run.id)
        session.rollback()

    assert marks[renamed] is False
    assert all(unchanged for key, unchanged in marks.items() if key != renamed)
    assert len(marks) > 50


def test_a_professional_staged_in_two_parts_is_compared_as_a_whole(app, extract):
    import_file(app, extract.path)
    lines = extract.path.read_bytes().splitlines(keepends=True)
    ids = [line.split(b"|")[2] for line in lines[1:]]
    spoiled = {ids[number - 2] for number in BROKEN}
    several = next(nid for nid in ids if ids.count(nid) > 1 and nid not in spoiled)
    mine = [line for line in lines[1:] if line.split(b"|")[2] == several]

    with app.app_context(), db.sessions() as session:
        run = jobs.queue(session, "ps", "parts", str(extract.path), "test")
        marks = []
        for part in (mine[:1], mine[1:]):
            path = extract.path.with_name(f"part-{len(marks)}.txt")
            path.write_bytes(lines[0] + b"".join(part))
            (batch,) = extract_batches.read(str(path), "ps", 50)
            staging.stage_professionals(session, run.id, batch.rows)
            marks.append(staged_marks(session, run.id)[several.decode()])
        session.rollback()

    assert marks == [False, True]  # the first line alone differs; with the others, it is stored


def test_a_reading_process_loads_neither_flask_nor_sqlalchemy():
    # Each reading process would otherwise carry ~45 MB of modules it never uses.
    script = (
        "import sys, directory.extract.batches; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'sqlalchemy'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert loaded.stdout.strip() == "[]"


def test_a_reading_process_runs_the_garbage_collector_less_often(extract):
    class Channel:
        """What _produce sends, with the collector's threshold when it sends it."""

        def __init__(self):
            self.sent = []

        def put(self, message, timeout):
            self.sent.append((message[0], gc.get_threshold()[0]))

    channel = Channel()
    before = gc.get_threshold()

    extract_batches._produce(str(extract.path), "ps", 100, (0, 1), channel, os.getppid())

    during = extract_batches.YOUNG_COLLECTION_EVERY
    assert channel.sent[:-1] == [("batch", during)] * (len(channel.sent) - 1)
    assert channel.sent[-1][0] == "done" and len(channel.sent) > 2
    assert gc.get_threshold() == before and before[0] < during
