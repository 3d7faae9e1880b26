"""identity's throughput and memory, against Keycloak's published sizing and our targets.

    make bench                         (or: uv run python bench/identity.py --seconds 8)

Starts identity under gunicorn on a loopback port (SQLite in a temporary folder, or PostgreSQL
when ENRS_TEST_DATABASE_URL is set), seeds clients and accounts, then measures, each for a
bounded time and a bounded number of requests: full password logins, refresh grants,
client-credentials grants, in-process token verifications (tokens seen for the first time, and
seen again) and the web workers' memory.
With two cores or more the server is pinned to one core and the load generators to the others,
so the figures are per server core. gunicorn runs with the deployed settings
(deploy/gunicorn.conf.py: threaded workers with HTTP keep-alive), one worker per server core,
and each load thread keeps its connection to identity as a client with a pooled session does;
--workers, --worker-class sync and --new-connections measure the other cases.
"""

import argparse
import concurrent.futures
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import oidc_flows as flows
import requests
from servicekit.auth import KeySet, TokenVerifier, VerifiedClaims
from servicekit.testing import ServiceProcess, database_url, drop_postgres_database, free_port

# Keycloak's sizing guide: per vCPU, 15 password logins/s, 120 refresh and 120 client-credentials
# grants/s. Our targets are per core (RSS per web worker).
KEYCLOAK = {"logins": 15, "refresh": 120, "client_credentials": 120}
TARGETS = {
    "logins": 40,
    "refresh": 480,
    "client_credentials": 480,
    "verifications_cold": 10_000,
    "verifications_warm": 10_000,
}
RSS_TARGET_MB = 150
# The cryptography each request cannot do without: a login verifies a password and signs an
# access token and an ID token; a refresh or client-credentials grant signs an access token.
NEEDED_CRYPTOGRAPHY = {
    "logins": {"argon2id": 1, "rs256": 2},
    "refresh": {"rs256": 1},
    "client_credentials": {"rs256": 1},
}
PASSWORD = "banc-d-essai-mot-de-passe"
REDIRECT_PATH = "/auth/callback"
GUNICORN_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


@dataclass
class Rate:
    name: str
    done: int
    failed: int
    seconds: float
    cpu_seconds: float = 0.0  # CPU time the server (or the verifying thread) spent on them

    @property
    def per_second(self):
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self):
        return self.done / self.cpu_seconds if self.cpu_seconds else 0.0


def options(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="time per measure")
    parser.add_argument("--max-requests", type=int, default=6000, help="requests per measure")
    parser.add_argument("--users", type=int, default=240, help="accounts for the login measure")
    parser.add_argument("--threads", type=int, default=8, help="load generator threads")
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default: one per server core)"
    )
    parser.add_argument(
        "--worker-class", default=None, help="gunicorn worker class (default: the deployed one)"
    )
    parser.add_argument(
        "--new-connections",
        action="store_true",
        help="open a connection per token request (default: each load thread keeps one)",
    )
    return parser.parse_args(argv)


class Connections:
    """What the load threads send their token requests through.

    By default one requests.Session per thread, which keeps its connection open between
    requests as a client with a pooled session does; with --new-connections, requests itself,
    which opens and closes a connection per request.
    """

    def __init__(self, reuse):
        self.reuse = reuse
        self._local = threading.local()

    def http(self):
        if not self.reuse:
            return requests
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session


def split_cpus():
    """(server cpus, load generator cpus): one core for the server when there are several."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, set(cpus[1:])


def process_tree(pid):
    """pid and its children (gunicorn's master and workers), from /proc."""
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    children = children_file.read_text().split() if children_file.exists() else []
    return [pid, *(int(child) for child in children)]


def threads_of(pid):
    """The thread ids of a process (a threaded worker's request threads among them)."""
    return [int(task) for task in os.listdir(f"/proc/{pid}/task")]


def pin(pid, cpus):
    """Pin gunicorn's master, its workers and every thread they have started to cpus.

    Affinity belongs to each thread: a thread started before this call keeps the old one.
    """
    for each in process_tree(pid):
        for thread in threads_of(each):
            os.sched_setaffinity(thread, cpus)


def cpu_seconds(pid):
    """CPU time (user + system) used so far by gunicorn's master and workers."""
    total = 0
    for each in process_tree(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def worker_rss_mb(pid):
    """The resident memory (MB) of each gunicorn worker under the master pid."""
    sizes = []
    for worker in process_tree(pid)[1:]:
        for line in Path(f"/proc/{worker}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def run_load(name, task, args, server_pid, max_requests=None):
    """Call task(i) from the load threads until the time or the request budget runs out."""
    max_requests = max_requests or args.max_requests
    counter = {"next": 0, "done": 0, "failed": 0, "first_error": None}
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def loop():
        while time.monotonic() < deadline:
            with lock:
                if counter["next"] >= max_requests:
                    return
                index = counter["next"]
                counter["next"] += 1
            try:
                task(index)
                outcome = "done"
            except (flows.FlowError, OSError, LookupError) as exc:
                outcome = "failed"
                counter["first_error"] = counter["first_error"] or exc
            with lock:
                counter[outcome] += 1

    started, cpu_before = time.monotonic(), cpu_seconds(server_pid)
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        for future in [pool.submit(loop) for _ in range(args.threads)]:
            future.result()
    elapsed, cpu = time.monotonic() - started, cpu_seconds(server_pid) - cpu_before
    if counter["failed"]:
        print(f"  {name}: {counter['failed']} failed, first: {counter['first_error']}")
    return Rate(name, counter["done"], counter["failed"], elapsed, cpu)


def identity_env(port, database, folder, args):
    issuer = f"http://127.0.0.1:{port}"
    metrics = Path(folder) / "prometheus"
    metrics.mkdir()
    env = {
        # The deployed settings; the worker class asked for, if any (read by that file).
        "GUNICORN_CMD_ARGS": f"--config {GUNICORN_CONFIG}",
        "GUNICORN_WORKER_CLASS": args.worker_class or os.environ.get("GUNICORN_WORKER_CLASS", ""),
        "DATABASE_URL": database,
        "SECRET_KEY": secrets.token_hex(32),
        "OIDC_ISSUER": issuer,
        "ENRS_PUBLIC_URL": issuer,
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    return {name: value for name, value in env.items() if value}


def seed_clients(identity):
    """A browser client (code + refresh) and a service client allowed to manage accounts."""
    web = flows.Client("bench-web", secrets.token_urlsafe(24), identity.url + REDIRECT_PATH)
    identity.flask(
        "client", "create", web.client_id, "--secret-stdin",
        "--redirect-uri", web.redirect_uri,
        "--grant", "authorization_code", "--grant", "refresh_token",
        "--scope", "openid profile offline_access roles",
        input=web.secret + "\n",
    )  # fmt: skip
    admin = flows.Client("bench-admin", secrets.token_urlsafe(24))
    identity.flask(
        "client", "create", admin.client_id, "--secret-stdin",
        "--redirect-uri", identity.url + REDIRECT_PATH,
        "--grant", "client_credentials", "--role", "platform-admin",
        input=admin.secret + "\n",
    )  # fmt: skip
    return web, admin


def seed_accounts(identity, admin, count, threads):
    """`count` accounts: a TOTP code is good once per account per 30 s step."""
    token = flows.client_credentials(identity.url, admin)["access_token"]
    prefix = secrets.token_hex(3)

    def create(index):
        return flows.create_user(identity.url, token, f"banc{prefix}{index:04d}", PASSWORD)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(create, range(count)))


def measure_logins(identity, web, accounts, args, connections):
    responses = []

    def login(index):
        http = connections.http()
        responses.append(flows.password_login(identity.url, web, accounts[index], http=http))

    budget = min(args.max_requests, len(accounts))
    pid = identity.process.pid
    return run_load("logins", login, args, pid, budget), responses


def measure_refresh(identity, web, login_responses, args, connections):
    chains = [response["refresh_token"] for response in login_responses]
    if not chains:
        raise SystemExit("no login succeeded: no refresh token to rotate")
    locks = [threading.Lock() for _ in chains]

    def rotate(index):
        slot = index % len(chains)
        with locks[slot]:
            answer = flows.refresh(identity.url, web, chains[slot], http=connections.http())
            chains[slot] = answer["refresh_token"]

    return run_load("refresh", rotate, args, identity.process.pid)


def measure_client_credentials(identity, admin, args, connections):
    def grant(_index):
        flows.client_credentials(identity.url, admin, http=connections.http())

    return run_load("client_credentials", grant, args, identity.process.pid)


def measure_verifications(identity, admin, seconds, distinct=200, max_count=200_000):
    """servicekit's TokenVerifier.verify on one thread (one core) against identity's keys.

    cold: every verification is of a token the verifier has not seen (its claims cache keeps
    one entry, so `distinct` tokens in turn always miss), as for the first call with a token;
    warm: the same tokens again, answered from the claims cache, as for a client's next calls.
    """
    tokens = [
        flows.client_credentials(identity.url, admin)["access_token"] for _ in range(distinct)
    ]
    keys = KeySet(identity.url + "/jwks.json")
    cold = TokenVerifier(identity.url, "enrs-api", keys, cache=VerifiedClaims(size=1))
    warm = TokenVerifier(identity.url, "enrs-api", keys)
    warm.verify(tokens[0])  # fetches the JWKS once, as a service does at its first request
    return [
        _verify_loop("verifications_cold", cold, tokens, seconds, max_count),
        _verify_loop("verifications_warm", warm, tokens, seconds, max_count),
    ]


def _verify_loop(name, verifier, tokens, seconds, max_count):
    done = 0
    started, cpu_before = time.monotonic(), time.thread_time()
    deadline = started + seconds
    while done < max_count and time.monotonic() < deadline:
        verifier.verify(tokens[done % len(tokens)])
        done += 1
    elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu_before
    return Rate(name, done, 0, elapsed, cpu)


def measure_cryptography():
    """This core's cost of the cryptography that requests need (bench/cryptography_cost.py)."""
    script = Path(__file__).resolve().parent / "cryptography_cost.py"
    answer = subprocess.run(
        [sys.executable, "-P", str(script)], capture_output=True, text=True, check=True
    )
    return json.loads(answer.stdout)


def averaged(before, after):
    """The cryptography's costs measured before and after the loads, averaged; both are kept
    ("drift"): a machine whose speed changed meanwhile shows it."""
    figures = dict(after)
    for name in ("argon2id_ms", "rs256_ms"):
        figures[name] = (before[name] + after[name]) / 2
        figures[name + "_drift"] = (before[name], after[name])
    return figures


def report(rates, rss, server_cores, args, backend, load, cryptography):
    print()
    workers = f"{args.worker_class} workers" if args.worker_class else "workers as deployed"
    connections = "a new connection each" if args.new_connections else "kept connections"
    print(f"identity under gunicorn: {args.workers} {workers} pinned to {server_cores} core(s),")
    print(f"database {backend}, load from {args.threads} threads on the other core(s),")
    print(f"token requests over {connections};")
    print(f"machine load average before the run: {load:.1f} (other work skews wall-clock rates).")
    print("busy: server CPU-seconds per second; per core: requests per server CPU-second")
    print(f"{'measure':<19}{'done':>6}{'wall/s':>9}{'busy':>6}{'per core':>10}{'Keycloak':>10}"
          f"{'ratio':>7}{'target':>8}")  # fmt: skip
    for rate in rates:
        per_core = rate.per_cpu_second
        keycloak = KEYCLOAK.get(rate.name)
        ratio = f"{per_core / keycloak:.1f}x" if keycloak else "-"
        target = TARGETS[rate.name]
        verdict = "ok" if per_core >= target else "below"
        busy = f"{rate.cpu_seconds / rate.seconds:.0%}" if rate.seconds else "-"
        print(f"{rate.name:<19}{rate.done:>6}{rate.per_second:>9.1f}{busy:>6}{per_core:>10.1f}"
              f"{keycloak or '-':>10}{ratio:>7}{target:>8} {verdict}")  # fmt: skip
    report_cryptography(rates, cryptography)
    worst = max(rss) if rss else 0.0
    verdict = "ok" if worst <= RSS_TARGET_MB else "above"
    sizes = ", ".join(f"{size:.0f}" for size in rss)
    print(f"web worker RSS: {sizes} MB (target <= {RSS_TARGET_MB} MB per worker) {verdict}")


def report_cryptography(rates, cryptography):
    """What share of each request's server CPU went to the cryptography it needs, and the most
    requests per CPU-second this core could serve if nothing else cost anything."""
    print()
    argon2id, rs256 = cryptography["argon2id_ms_drift"], cryptography["rs256_ms_drift"]
    print(f"this core, one at a time, before / after the loads: Argon2id verification "
          f"{argon2id[0]:.1f} / {argon2id[1]:.1f} ms ({cryptography['argon2id_parameters']}), "
          f"RS256 signature {rs256[0]:.2f} / {rs256[1]:.2f} ms "
          f"({cryptography['rsa_bits']}-bit key); their means below")  # fmt: skip
    print(f"{'measure':<19}{'server ms':>10}{'crypto ms':>10}{'share':>7}{'ceiling/s':>11}")
    for rate in rates:
        needed = NEEDED_CRYPTOGRAPHY.get(rate.name)
        if not needed or not rate.per_cpu_second:
            continue
        server = 1000 / rate.per_cpu_second
        crypto = sum(cryptography[name + "_ms"] * count for name, count in needed.items())
        print(f"{rate.name:<19}{server:>10.2f}{crypto:>10.2f}{crypto / server:>7.0%}"
              f"{1000 / crypto:>11.0f}")  # fmt: skip


def run(args, database, backend, folder):
    server_cpus, load_cpus = split_cpus()
    # One threaded worker per core, as gunicorn advises: two worker processes sharing one core
    # only add switches between them (refresh grants about a fifth dearer, alternating runs).
    args.workers = args.workers or len(server_cpus)
    load = os.getloadavg()[0]
    port = free_port()
    env = identity_env(port, database, folder, args)
    connections = Connections(reuse=not args.new_connections)
    # The workers are those of the configuration the environment names (deployed, or as asked).
    before = measure_cryptography()
    with ServiceProcess("identity", env, port, args.workers, threads=None) as identity:
        pin(identity.process.pid, server_cpus)
        os.sched_setaffinity(0, load_cpus)
        web, admin = seed_clients(identity)
        print(f"seeding {args.users} accounts...")
        accounts = seed_accounts(identity, admin, args.users, args.threads)
        print("measuring: logins, refresh, client credentials, verifications")
        logins, responses = measure_logins(identity, web, accounts, args, connections)
        rates = [
            logins,
            measure_refresh(identity, web, responses, args, connections),
            measure_client_credentials(identity, admin, args, connections),
            *measure_verifications(identity, admin, args.seconds),
        ]
        rss = worker_rss_mb(identity.process.pid)
    cryptography = averaged(before, measure_cryptography())
    report(rates, rss, len(server_cpus), args, backend, load, cryptography)


def main(argv):
    args = options(argv)
    with tempfile.TemporaryDirectory(prefix="enrs-bench-") as folder:
        database = database_url(Path(folder), "bench_identity")
        backend = "PostgreSQL" if database.startswith("postgresql") else "SQLite"
        try:
            run(args, database, backend, folder)
        finally:
            if backend == "PostgreSQL":
                drop_postgres_database(database)


if __name__ == "__main__":
    main(sys.argv[1:])
