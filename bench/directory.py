"""The directory at national size: import throughput and memory, search latency through HTTP.

    make bench-directory ROWS=200000   (or: uv run python bench/directory.py --rows 200000)

Generates a synthetic personne-activité extract (2,000,000 activity lines by default, about
1.45 million professionals) and a copy with about 1 % of its professionals changed, then for
each backend (SQLite file, PostgreSQL database made for the run):
- runs `flask --app directory import` three times as a child process (first import, the same
  snapshot again, the changed snapshot): wall seconds, lines/s, the child's CPU seconds, lines
  per CPU-second and its peak resident memory (on PostgreSQL also the server's CPU seconds
  meanwhile, and lines per CPU-second of both together);
- starts the directory under gunicorn with access tokens it accepts and measures, one request at
  a time on a keep-alive connection, the latency of the portal's searches (name prefix, name
  without accents, name + speciality + postcode), next to a naive `lower(...) LIKE '%term%'`
  query run directly on the same database.
Wall figures are skewed by other work on the machine; CPU figures much less.
"""

import argparse
import http.client
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

# This file is named after the service it measures: its own folder, first on sys.path, would
# hide the `directory` package.
sys.path[:] = [entry for entry in sys.path if Path(entry).resolve() != Path(__file__).parent]

import sqlalchemy as sa  # noqa: E402
from directory.extract.identifiers import luhn_key  # noqa: E402
from directory.extract.synthetic import generate  # noqa: E402
from directory.models import search_key  # noqa: E402
from servicekit.testing import ServiceProcess, free_port  # noqa: E402
from servicekit.testing.database import drop_postgres_database, fresh_postgres_database  # noqa: E402
from servicekit.testing.tokens import TEST_ISSUER, JwksServer, SigningKey, TokenFactory  # noqa: E402

POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGETS = {"lines_per_cpu_second": 25_000, "peak_rss_mb": 300, "delta_seconds": 120, "p95_ms": 20}
PORTAL_PAGE = 20
# Columns of the personne-activité extract (0-based): identifiers, names, the site block.
NATIONAL_ID, FAMILY = 2, 7
SITE = slice(19, 50)  # "Numéro SIRET site" .. "Libellé secteur d'activité"
NEW_FAMILY_NAMES = ("Le Corre", "Kervella", "Lefèvre-Nouvel", "Quéméner", "Hénaff", "Abgrall")


def options(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="activity lines")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--searches", type=int, default=300, help="requests per search kind")
    parser.add_argument("--naive-searches", type=int, default=30, help="naive queries per kind")
    parser.add_argument("--workdir", type=Path, default=None, help="extracts and SQLite files")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the databases (named after --rows) and skip the imports when already filled",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args(argv)


# --- the extracts -------------------------------------------------------------------------


@dataclass
class Changes:
    renamed: int = 0
    moved: int = 0
    removed: int = 0
    added: int = 0


def extracts(workdir, rows):
    """The first snapshot (generated once per row count) and the one with ~1 % changed."""
    first = workdir / f"PS_LibreAcces_Personne_activite_{rows}.txt"
    changed = workdir / f"PS_LibreAcces_Personne_activite_{rows}_changed.txt"
    if not first.exists():
        print(f"generating {rows} lines into {first.name}...")
        started = time.monotonic()
        partial = first.with_suffix(".partial")
        summary = generate(partial, rows, seed=0, mssante_path=workdir / f"MSSante_{rows}.txt")
        partial.rename(first)
        print(f"  {summary.professionals} professionals, {summary.organisations} organisations"
              f" in {time.monotonic() - started:.0f} s")  # fmt: skip
    counts = changed.with_suffix(".json")
    if changed.exists() and counts.exists():  # written whole (renamed into place) by a past run
        changes = Changes(**json.loads(counts.read_text()))
    else:
        partial = changed.with_suffix(".partial")
        changes = changed_snapshot(first, partial)
        counts.write_text(json.dumps(vars(changes)))
        partial.rename(changed)
    print(f"changed snapshot: {changes}")
    return first, changed, changes


def changed_snapshot(source, target, share=0.01, seed=1):
    """Write `source` with about `share` of its professionals changed, line by line.

    Of the changed ones: 40 % renamed, 20 % moved to another site, 20 % gone; as many newcomers
    as a fifth of them are added (copies of existing professionals under a new RPPS). Memory
    stays constant: one professional's lines and a small pool of recent sites at a time.
    """
    rng = random.Random(seed)
    changes = Changes()
    recent_sites = []
    with open(source, "rb") as reader, open(target, "wb") as out:
        out.write(reader.readline())
        people = itertools.groupby(reader, key=lambda line: line.split(b"|", 3)[NATIONAL_ID])
        for _national_id, group in people:
            lines = [line.split(b"|") for line in group]
            _remember_site(rng, recent_sites, lines[0][SITE])
            draw = rng.random() / share
            if draw < 0.4:
                _rename(rng, lines)
                changes.renamed += 1
            elif draw < 0.6 and recent_sites:
                lines[0][SITE] = rng.choice(recent_sites)
                changes.moved += 1
            elif draw < 0.8:
                changes.removed += 1
                continue
            elif draw < 1.0 and lines[0][0] == b"8":
                changes.added += 1
                out.write(b"".join(b"|".join(_newcomer(fields, changes.added)) for fields in lines))
            out.write(b"".join(b"|".join(fields) for fields in lines))
    return changes


def _remember_site(rng, pool, site, size=500):
    if len(pool) < size:
        pool.append(site)
    elif rng.random() < 0.01:
        pool[rng.randrange(size)] = site


def _rename(rng, lines):
    family = rng.choice(NEW_FAMILY_NAMES).encode()
    for fields in lines:
        fields[FAMILY] = family


def _newcomer(fields, number):
    # Generated RPPS numbers stay below 1,900,000,000: no newcomer takes an existing one.
    digits = f"19{number:08d}"
    rpps = (digits + luhn_key(digits)).encode()
    copy = list(fields)
    copy[1], copy[NATIONAL_ID] = rpps, b"8" + rpps
    return copy


# --- the imports --------------------------------------------------------------------------


@dataclass
class ImportFigures:
    name: str
    lines: int
    wall: float
    cpu: float
    peak_rss_mb: float
    summary: str
    changes: dict = field(default_factory=dict)
    # PostgreSQL's own CPU seconds meanwhile (None on SQLite, whose work is in `cpu`).
    database_cpu: float | None = None
    # The kernel's share of `cpu`: it varies with the state of the page cache (writing into a
    # full one makes the writer reclaim pages), as much as 7 to 19 s for one national import.
    kernel: float = 0.0

    @property
    def lines_per_second(self):
        return self.lines / self.wall if self.wall else 0.0

    @property
    def lines_per_cpu_second(self):
        return self.lines / self.cpu if self.cpu else 0.0

    @property
    def lines_per_cpu_second_with_database(self):
        """Lines per CPU-second of the import and of the PostgreSQL server together."""
        if self.database_cpu is None:
            return None
        total = self.cpu + self.database_cpu
        return self.lines / total if total else 0.0


def bare_reading_rate(path):
    """Lines per CPU-second this core takes only to read the extract, decode and split each line
    into its fields: no checks, no records, no writes, one process.

    The import does all of that and more, so this is its ceiling on this machine and the
    yardstick of its figures: the target is per core, and cores differ (measured before and
    after the imports: a machine whose speed changed meanwhile shows it).
    """
    started, lines = time.process_time(), 0
    with open(path, "rb") as reader:
        for line in reader:
            line.decode().split("|")
            lines += 1
    return lines / (time.process_time() - started)


def count_lines(path):
    with open(path, "rb") as reader:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: reader.read(1 << 20), b"")) - 1


def run_import(name, env, path, log, backend):
    """`flask --app directory import path` as a child process, with its CPU time and peak RSS
    (and on PostgreSQL the server's CPU time meanwhile)."""
    command = [sys.executable, "-m", "flask", "--app", "directory", "import", str(path)]
    server_before = postgres_server_cpu_seconds() if backend == "postgresql" else None
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as stdout:
        child = subprocess.Popen(command, env=env, stdout=stdout, stderr=log)
        peak = PeakMemory(child.pid)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        peak.stop()
        stdout.seek(0)
        output = stdout.read()
    if child.returncode != 0:
        raise SystemExit(f"import of {path.name} failed ({child.returncode}): {output[-2000:]}")
    summary, *change_lines = output.strip().splitlines()
    changes = dict(_change(line) for line in change_lines if ":" in line)
    # ru_maxrss counts the pages of the forked bench before exec too: the polled VmHWM does not.
    peak_mb = max(peak.mb, 0.0) or usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    server = None
    if server_before is not None:
        server_after = postgres_server_cpu_seconds()
        if server_after is not None:
            server = server_after - server_before
    figures = ImportFigures(name, count_lines(path), wall, cpu, peak_mb, summary, changes, server)
    figures.kernel = usage.ru_stime
    return figures


def postgres_server_cpu_seconds():
    """CPU seconds of the PostgreSQL server on this machine so far, or None if none is seen.

    Its processes (postmaster, backends, autovacuum, WAL writer, checkpointer) plus what the
    postmaster collected from its children that exited (a backend ends with its connection).
    Between two readings, everything the server did meanwhile: on a machine that runs nothing
    else against it, the import's share of database work.
    """
    total, seen = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        head, _, rest = text.rpartition(")")
        if not head.endswith("(postgres"):
            continue
        fields = rest.split()
        seen = True
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if not _is_postgres(fields[1]):  # the postmaster: its parent is no PostgreSQL process
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: children reaped
    return total / os.sysconf("SC_CLK_TCK") if seen else None


def _is_postgres(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[0].endswith("(postgres")
    except OSError:
        return False


def _change(line):
    name, _, count = line.strip().rpartition(":")
    return name.strip(), int(count)


class PeakMemory:
    """Polls the resident memory of a process and its descendants from /proc until it exits.

    The import reads a large extract in a child process: its peak is that of the whole tree,
    sampled every `interval` (and never below the importer's own VmHWM).
    """

    def __init__(self, pid, interval=0.1):
        self.pid = pid
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(interval,), daemon=True)
        self._thread.start()

    def _poll(self, interval):
        while not self._done.wait(interval):
            own_peak = _status_mb(self.pid, "VmHWM:")
            if own_peak is None:
                return
            tree = sum(_status_mb(pid, "VmRSS:") or 0.0 for pid in _tree(self.pid))
            self.mb = max(self.mb, own_peak, tree)

    def stop(self):
        self._done.set()
        self._thread.join()


def _status_mb(pid, field_name):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _tree(pid):
    """pid and its descendants (their pids, as /proc lists each thread's children)."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return pids


# --- the searches -------------------------------------------------------------------------


@dataclass
class Latency:
    kind: str
    backend: str
    samples_ms: list
    naive_ms: list
    api_matches: int | None = None
    naive_matches: int | None = None
    failed: int = 0
    example: str = ""
    server_cpu_ms: float = float("nan")  # web process CPU per request (not the database's)
    database_cpu_ms: float = float("nan")  # PostgreSQL backends' CPU per request

    @staticmethod
    def quantile(samples, share):
        if not samples:
            return float("nan")
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def figures(self):
        q = self.quantile
        return {
            "p50": q(self.samples_ms, 0.5),
            "p95": q(self.samples_ms, 0.95),
            "p99": q(self.samples_ms, 0.99),
            "naive_p50": q(self.naive_ms, 0.5),
            "naive_p95": q(self.naive_ms, 0.95),
            "server_cpu_ms": self.server_cpu_ms,
            "database_cpu_ms": self.database_cpu_ms,
        }


def pick_terms(engine, count=6):
    """Search terms taken from the data: name prefixes, accented names, role combinations."""
    with engine.connect() as connection:
        families = connection.execute(
            sa.text("SELECT family FROM practitioners ORDER BY id LIMIT 3000")
        ).scalars()
        names = sorted(set(families))
        combos = connection.execute(
            sa.text(
                "SELECT p.family, r.savoir_faire_code, o.postcode FROM practitioner_roles r"
                " JOIN practitioners p ON p.id = r.practitioner_id"
                " JOIN organizations o ON o.id = r.organization_id"
                " WHERE r.savoir_faire_code <> '' AND r.active ORDER BY r.id LIMIT 500"
            )
        ).all()
    rng = random.Random(3)
    plain = [name for name in names if name.isascii()]
    accented = [name for name in names if not name.isascii()]
    prefixes = [search_key(name)[:4] for name in rng.sample(plain, min(count, len(plain)))]
    bare = [search_key(name) for name in rng.sample(accented, min(count, len(accented)))]
    roles = [
        (search_key(family)[:4], code, postcode[:2])
        for family, code, postcode in rng.sample(combos, min(count, len(combos)))
    ]
    return {"prefix": prefixes, "accent": [b for b in bare if b], "combined": roles}


def portal_requests(kind, term):
    """The FHIR search the portal makes for these criteria: (path, params)."""
    paging = {"_count": PORTAL_PAGE, "_offset": 0}
    if kind in ("prefix", "accent"):
        return "/fhir/Practitioner", {
            "name": term, "_revinclude": "PractitionerRole:practitioner", **paging
        }  # fmt: skip
    name, specialty, postcode = term
    return "/fhir/PractitionerRole", {
        "specialty": specialty,
        "practitioner.name": name,
        "organization.address-postalcode": postcode,
        "_include": ["PractitionerRole:practitioner", "PractitionerRole:organization"],
        **paging,
    }


NAIVE_NAMES = "FROM practitioners WHERE lower(family) LIKE :pattern OR lower(given) LIKE :pattern"
NAIVE_ROLES = (
    "FROM practitioner_roles r"
    " JOIN practitioners p ON p.id = r.practitioner_id"
    " JOIN organizations o ON o.id = r.organization_id"
    " WHERE r.savoir_faire_code = :specialty AND o.postcode LIKE :postcode"
    " AND (lower(p.family) LIKE :pattern OR lower(p.given) LIKE :pattern)"
)
NAIVE = {
    "names": (
        "SELECT count(*) " + NAIVE_NAMES,
        "SELECT * " + NAIVE_NAMES + " ORDER BY lower(family), lower(given) LIMIT 20",
    ),
    "roles": (
        "SELECT count(*) " + NAIVE_ROLES,
        "SELECT r.* " + NAIVE_ROLES + " ORDER BY r.id LIMIT 20",
    ),
}


def naive_query(kind, term):
    """The search as a plain `lower(column) LIKE '%term%'` query: (count, page) statements."""
    if kind in ("prefix", "accent"):
        count, page = NAIVE["names"]
        return sa.text(count), sa.text(page), {"pattern": f"%{term}%"}
    name, specialty, postcode = term
    count, page = NAIVE["roles"]
    params = {"pattern": f"%{name}%", "specialty": specialty, "postcode": f"%{postcode}%"}
    return sa.text(count), sa.text(page), params


class Client:
    """One keep-alive HTTP connection to the directory, with a fresh token when needed."""

    def __init__(self, url, tokens):
        parsed = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        self.tokens = tokens
        self._token, self._made = None, 0.0

    def get(self, path, params):
        # Checked for None too: the monotonic clock counts from boot, which may be minutes ago.
        if self._token is None or time.monotonic() - self._made > 240:
            self._token = self.tokens.make_token(roles=["clinician"])
            self._made = time.monotonic()
        target = path + "?" + urllib.parse.urlencode(params, doseq=True)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/fhir+json"}
        try:
            return self._timed_get(target, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the connection while it was idle (keep-alive ran out between two
            # kinds of searches): a new connection, and the request timed again from the start.
            self.connection.close()
            return self._timed_get(target, headers)

    def _timed_get(self, target, headers):
        started = time.perf_counter()
        self.connection.request("GET", target, headers=headers)
        response = self.connection.getresponse()
        body = response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        return response.status, body, elapsed_ms


def process_tree(pid):
    """pid and its children (gunicorn's master and workers), from /proc."""
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    children = children_file.read_text().split() if children_file.exists() else []
    return [pid, *(int(child) for child in children)]


def cpu_seconds(pid):
    """CPU time (user + system) used so far by gunicorn's master and workers."""
    total = 0
    for each in process_tree(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(engine):
    """CPU time of the PostgreSQL backends serving the database, but the bench's own (0 on
    SQLite, which runs inside the web process and is counted with it)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as connection:
        pids = connection.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalars()
        total = 0
        for pid in pids:
            stat = Path(f"/proc/{pid}/stat")
            if stat.exists():
                fields = stat.read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure_search(client, engine, kind, terms, backend, args, server_pid):
    latency = Latency(kind, backend, [], [])
    requests = [portal_requests(kind, term) for term in terms]
    for path, params in requests * 3:  # warm-up: each term's pages in the caches
        client.get(path, params)
    cpu_before = cpu_seconds(server_pid)
    database_before = database_cpu_seconds(engine)
    for index in range(args.searches):
        path, params = requests[index % len(requests)]
        status, body, elapsed_ms = client.get(path, params)
        if status != 200:
            latency.failed += 1
            latency.example = latency.example or f"{status} {body[:300]!r}"
            continue
        latency.samples_ms.append(elapsed_ms)
        if index < len(requests):
            latency.api_matches = (latency.api_matches or 0) + json.loads(body).get("total", 0)
    if latency.samples_ms:
        latency.server_cpu_ms = (cpu_seconds(server_pid) - cpu_before) * 1000 / args.searches
        database = database_cpu_seconds(engine) - database_before
        latency.database_cpu_ms = database * 1000 / args.searches
    latency.naive_matches = 0
    with engine.connect() as connection:
        statements = [naive_query(kind, term) for term in terms]
        for index in range(max(args.naive_searches, len(statements))):
            count, page, params = statements[index % len(statements)]
            started = time.perf_counter()
            matches = connection.execute(count, params).scalar()
            connection.execute(page, params).all()
            latency.naive_ms.append((time.perf_counter() - started) * 1000)
            if index < len(statements):
                latency.naive_matches += matches
    return latency


def measure_searches(env, database, backend, args):
    engine = sa.create_engine(database)
    try:
        terms = pick_terms(engine)
        print(f"search terms: {terms}")
        key = SigningKey()
        with JwksServer([key]) as jwks:
            service_env = {**env, "OIDC_ISSUER": TEST_ISSUER, "OIDC_JWKS_URL": jwks.url}
            with ServiceProcess("directory", service_env, free_port(), 1, migrate=False) as web:
                client = Client(web.url, TokenFactory(key))
                web_pid = web.process.pid
                return [
                    measure_search(client, engine, kind, terms[kind], backend, args, web_pid)
                    for kind in ("prefix", "accent", "combined")
                ]
    finally:
        engine.dispose()


# --- one backend --------------------------------------------------------------------------


def database_for(backend, args, workdir):
    """(url, created): the backend's database, made for this run unless reused."""
    if backend == "sqlite":
        name = f"directory_{args.rows}.db" if args.reuse else f"directory_{os.getpid()}.db"
        path = workdir / name
        return f"sqlite:///{path}", not path.exists()
    base = os.environ.get("ENRS_TEST_DATABASE_URL") or POSTGRES_DEFAULT
    if args.reuse:
        url = sa.engine.make_url(base).set(database=f"bench_directory_{args.rows}")
        url = url.render_as_string(hide_password=False)
        if not _postgres_exists(url):
            admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "bench_directory_{args.rows}"'))
            admin.dispose()
        return url, True
    return fresh_postgres_database(base, "bench_directory"), True


def _postgres_exists(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def filled(database):
    engine = sa.create_engine(database)
    try:
        with engine.connect() as connection:
            return bool(connection.execute(sa.text("SELECT count(*) FROM import_runs")).scalar())
    finally:
        engine.dispose()


def run_backend(backend, args, workdir, snapshots):
    database, _created = database_for(backend, args, workdir)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "SECRET_KEY": "banc-d-essai-" + "0" * 40,
        "OIDC_ISSUER": TEST_ISSUER,
        "LOG_LEVEL": "WARNING",
        "IMPORT_DIR": str(workdir / "imports"),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="metrics-", dir=workdir),
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "directory", "migrate"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        imports = []
        if not (args.reuse and filled(database)):
            imports = run_imports(backend, env, snapshots, workdir)
        searches = measure_searches(env, database, backend, args)
    finally:
        if backend == "postgresql" and not args.reuse:
            drop_postgres_database(database)
        elif backend == "sqlite" and not args.reuse:
            Path(database.removeprefix("sqlite:///")).unlink(missing_ok=True)
    return imports, searches


def run_imports(backend, env, snapshots, workdir):
    first, changed = snapshots
    figures = []
    with open(workdir / f"import-{backend}.log", "a") as log:
        for name, path in (("first", first), ("unchanged", first), ("1 % changed", changed)):
            print(f"[{backend}] import: {name}...", flush=True)
            result = run_import(name, env, path, log, backend)
            print(f"  {result.summary}; {result.wall:.0f} s wall, {result.cpu:.0f} s CPU"
                  f" ({result.kernel:.0f} s in the kernel), peak {result.peak_rss_mb:.0f} MB",
                  flush=True)  # fmt: skip
            figures.append(result)
    return figures


# --- the report ---------------------------------------------------------------------------


def report_imports(backend, imports, bare_rate):
    if not imports:
        return
    print(f"\nimports on {backend} (child process of `flask --app directory import`)")
    print(f"{'import':<13}{'lines':>10}{'wall s':>9}{'lines/s':>10}{'CPU s':>9}{'kernel':>8}"
          f"{'lines/CPU s':>13}{'of bare':>8}{'DB CPU s':>10}{'with DB':>9}{'peak MB':>9}"
          "  changes")  # fmt: skip
    for each in imports:
        changes = ", ".join(f"{name} {count}" for name, count in sorted(each.changes.items()))
        database = "-" if each.database_cpu is None else f"{each.database_cpu:.1f}"
        with_database = each.lines_per_cpu_second_with_database
        together = "-" if with_database is None else f"{with_database:.0f}"
        print(f"{each.name:<13}{each.lines:>10}{each.wall:>9.1f}{each.lines_per_second:>10.0f}"
              f"{each.cpu:>9.1f}{each.kernel:>8.1f}{each.lines_per_cpu_second:>13.0f}"
              f"{each.lines_per_cpu_second / bare_rate:>8.1%}{database:>10}{together:>9}"
              f"{each.peak_rss_mb:>9.0f}  {changes or '-'}")  # fmt: skip
    print(
        f"targets: >= {TARGETS['lines_per_cpu_second']} lines per CPU-second,"
        f" <= {TARGETS['peak_rss_mb']} MB, 1 % delta <= {TARGETS['delta_seconds']} s wall;"
        " kernel = the kernel's seconds within CPU s (they vary with the page cache's state);"
        " of bare = lines per CPU-second / the bare reading's (its mean);"
        " DB CPU = the PostgreSQL server's CPU seconds meanwhile (SQLite's are in CPU s);"
        " with DB = lines per CPU-second of the import and the server together"
    )


def report_searches(backend, searches):
    print(f"\nsearches on {backend}: ms per HTTP request (wall, one client, keep-alive);"
          " naive = count + page of lower(...) LIKE '%term%' run directly")  # fmt: skip
    print(f"{'search':<10}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'CPU/req':>9}{'DB CPU':>8}"
          f"{'naive p50':>11}{'naive p95':>11}{'p95 ratio':>11}{'matches':>10}"
          f"{'naive':>9}")  # fmt: skip
    for each in searches:
        f = each.figures()
        ratio = f["naive_p95"] / f["p95"] if f["p95"] else float("nan")
        verdict = "ok" if f["p95"] <= TARGETS["p95_ms"] else "above"
        print(f"{each.kind:<10}{len(each.samples_ms):>5}{f['p50']:>8.1f}{f['p95']:>8.1f}"
              f"{f['p99']:>8.1f}{f['server_cpu_ms']:>9.1f}{f['database_cpu_ms']:>8.1f}"
              f"{f['naive_p50']:>11.1f}{f['naive_p95']:>11.1f}{ratio:>10.1f}x"
              f"{each.api_matches or 0:>10}{each.naive_matches or 0:>9} {verdict}")  # fmt: skip
        if each.failed:
            print(f"  {each.failed} failed, first: {each.example}")
    print(f"target: p95 <= {TARGETS['p95_ms']} ms; CPU/req = CPU ms of the web process per request"
          "; DB CPU = PostgreSQL's CPU ms per request (SQLite's is in CPU/req);"
          " ratio = naive p95 / API p95;"
          " matches = totals of each term's first request (API: absent above"
          " the count limit, and for role searches by name unless asked)"
          " and of each naive count")  # fmt: skip


def as_json(results, changes):
    document = {"changed_snapshot": vars(changes), "backends": {}}
    for backend, (imports, searches) in results.items():
        document["backends"][backend] = {
            "imports": [
                {
                    **vars(each),
                    "lines_per_second": each.lines_per_second,
                    "lines_per_cpu_second": each.lines_per_cpu_second,
                    "lines_per_cpu_second_with_database": each.lines_per_cpu_second_with_database,
                }
                for each in imports
            ],
            "searches": {each.kind: each.figures() for each in searches},
        }
    return document


def main(argv):
    args = options(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="enrs-bench-directory-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        first, changed, changes = extracts(workdir, args.rows)
        load = os.getloadavg()[0]
        bare_before = bare_reading_rate(first)
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        results = {b: run_backend(b, args, workdir, (first, changed)) for b in backends}
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        bare = (bare_before, bare_reading_rate(first))
    print(f"\n{args.rows} activity lines; machine load average before: {load:.1f};"
          f" bench process CPU {cpu_after.ru_utime - cpu_before.ru_utime:.0f} s")  # fmt: skip
    print(f"this core only reads, decodes and splits the extract's lines at {bare[0]:.0f} before /"
          f" {bare[1]:.0f} after the imports per CPU-second (no checks, no writes)")  # fmt: skip
    for backend, (imports, searches) in results.items():
        report_imports(backend, imports, sum(bare) / 2)
        report_searches(backend, searches)
    if args.json:
        args.json.write_text(json.dumps(as_json(results, changes), indent=2, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
