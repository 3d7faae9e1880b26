"""A queued import crosses the real processes: upload to gunicorn, the worker imports the file and
relays the directory's events to the broker."""

import secrets

import pytest
import requests
from directory.extract import generate
from servicekit.testing import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    ServiceProcess,
    TansuBroker,
    WorkerProcess,
    database_url,
    drop_postgres_database,
    eventually,
    postgres_url,
    read_events,
)

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

TOPIC = "enrs.directory"


@pytest.fixture
def broker():
    with TansuBroker() as running:
        yield running


@pytest.fixture
def directory(broker, jwks, tmp_path):
    """The directory under gunicorn, verifying tokens with the test keys, events bound for Tansu."""
    url = database_url(tmp_path, "directory_imports")
    service = ServiceProcess("directory", env={}, log_path=tmp_path / "directory.log")
    service.env.update(
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_hex(32),
        OIDC_ISSUER=TEST_ISSUER,
        OIDC_AUDIENCE=TEST_AUDIENCE,
        OIDC_JWKS_URL=jwks.url,
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        IMPORT_DIR=str(tmp_path / "imports"),
        LOG_LEVEL="WARNING",
    )
    try:
        with service:
            yield service
    finally:
        if postgres_url():
            drop_postgres_database(url)


@pytest.fixture
def worker(directory, tmp_path):
    with WorkerProcess(directory, log_path=tmp_path / "worker.log") as running:
        yield running


def test_the_worker_runs_an_uploaded_import_and_publishes_its_events(
    directory, worker, broker, gcs_admin, tmp_path
):
    extract = generate(tmp_path / "PS_LibreAcces_Personne_activite.txt", 60, seed=21)
    with open(extract.path, "rb") as stream:
        queued = requests.post(
            f"{directory.url}/api/v1/imports",
            files={"file": (extract.path.name, stream)},
            headers=gcs_admin,
            timeout=10,
        )
    assert queued.status_code == 202, queued.text

    def finished():
        run = requests.get(
            f"{directory.url}/api/v1/imports/{queued.json()['id']}", headers=gcs_admin, timeout=5
        ).json()
        return run if run["status"] in ("done", "failed") else None

    run = eventually(finished, timeout=30)
    assert (run["status"], run["imported"]) == ("done", 60)
    events = read_events(broker.bootstrap, TOPIC, run["created"], timeout=30)
    practitioners = [e for e in events if e.get_type() == "fr.enrs.directory.practitioner.created"]
    assert len(practitioners) == extract.professionals
    assert {e.get_source() for e in events} == {"/enrs/directory"}


def test_an_import_survives_its_worker_being_killed_and_emits_each_change_once(
    directory, broker, gcs_admin, tmp_path
):
    directory.stop()
    directory.env.update(IMPORT_LEASE_SECONDS="2", IMPORT_BATCH_SIZE="25")
    directory.start()
    extract = generate(tmp_path / "PS_LibreAcces_Personne_activite.txt", 6000, seed=22)
    run_id = upload(directory, gcs_admin, extract.path)["id"]

    with WorkerProcess(directory, log_path=tmp_path / "killed.log") as doomed:
        eventually(lambda: import_run(directory, gcs_admin, run_id)["lines"] > 0, timeout=60)
        doomed.process.kill()  # SIGKILL: no cleanup, the run stays "running" mid-way
        doomed.process.wait()
    interrupted = import_run(directory, gcs_admin, run_id)
    assert interrupted["status"] == "running" and interrupted["lines"] < 6000

    with WorkerProcess(directory, log_path=tmp_path / "worker.log"):
        run = eventually(lambda: finished(directory, gcs_admin, run_id), timeout=120)
        assert (run["status"], run["imported"]) == ("done", 6000)
        events = distinct_events(broker, run["created"])
    assert len(events) == run["created"]
    created = [e for e in events if e.get_type() == "fr.enrs.directory.practitioner.created"]
    assert len(created) == len({e.get_subject() for e in created}) == extract.professionals


def distinct_events(broker, expected):
    """The events on the topic, each once: the relay delivers at least once, so after a worker
    was killed between publishing and marking sent, an event id can be on the topic twice
    (consumers drop the repeat). Reads on until `expected` distinct ids were seen."""
    wanted = expected
    while True:
        events = {e.get_id(): e for e in read_events(broker.bootstrap, TOPIC, wanted, timeout=60)}
        if len(events) >= expected:
            return list(events.values())
        wanted += expected - len(events)


def upload(directory, headers, path):
    with open(path, "rb") as stream:
        queued = requests.post(
            f"{directory.url}/api/v1/imports",
            files={"file": (path.name, stream)},
            headers=headers,
            timeout=30,
        )
    assert queued.status_code == 202, queued.text
    return queued.json()


def import_run(directory, headers, run_id):
    url = f"{directory.url}/api/v1/imports/{run_id}"
    return requests.get(url, headers=headers, timeout=5).json()


def finished(directory, headers, run_id):
    run = import_run(directory, headers, run_id)
    return run if run["status"] in ("done", "failed") else None
