"""Run a service for real: `flask migrate`, then gunicorn on a loopback port."""

import os
import subprocess
import sys
import urllib.request

from servicekit.testing.common import eventually, free_port


class ServiceProcess:
    """A service run for real: `flask migrate` then gunicorn on a loopback port, until stopped.

    ServiceProcess("identity", env={...}) runs `identity:create_app()`; `url` is its base URL.
    The process gets the current environment plus `env`; its output goes to `log_path`.
    Its workers are threaded, `threads` each, as deploy/gunicorn.conf.py runs every service
    (threads=1: a sync worker; None: as a configuration in GUNICORN_CMD_ARGS says).
    """

    def __init__(
        self,
        package,
        env,
        port=None,
        workers=1,
        log_path=None,
        migrate=True,
        preload=False,
        threads=4,
    ):
        self.package = package
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.log_path = log_path
        self.migrate = migrate
        self.preload = preload  # import the app once, before forking the workers (faster start)
        self.process = None
        self._log = None

    def flask(self, *args, input=None):
        """Run a `flask --app <package>` command in the service's environment; its stdout."""
        # our own interpreter and a fixed argument list, no shell
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", self.package, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result.stdout

    def start(self, timeout=30):
        """Migrate (unless told not to), start gunicorn and wait for /healthz."""
        if self.migrate:
            self.flask("migrate")
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                f"{self.package}:create_app()",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                *_worker_options(self.threads),
                "--graceful-timeout",
                "5",
                *_no_control_socket(),
                *(["--preload"] if self.preload else []),
            ],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        eventually(
            self._healthy,
            timeout=timeout,
            interval=0.1,
            message=f"{self.package} did not answer /healthz",
        )
        return self

    def _healthy(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.package} exited with code {self.process.returncode}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def stop(self):
        """Stop gunicorn (SIGTERM, then SIGKILL after 10 s)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log not in (None, -3) and hasattr(self._log, "close"):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class WorkerProcess:
    """The service's worker (`flask --app <package> worker`: outbox relay and consumer), run for
    real in the environment of a ServiceProcess, until stopped with SIGTERM as a supervisor does.
    """

    def __init__(self, service, log_path=None):
        self.service = service
        self.log_path = log_path
        self.process = None
        self._log = None

    def start(self):
        """Start the worker; it applies migrations itself, then relays and consumes."""
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, "-m", "flask", "--app", self.service.package, "worker"],
            env=self.service.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self, timeout=15):
        """SIGTERM, and the exit code once it stopped (SIGKILL after `timeout` seconds)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if hasattr(self._log, "close"):
            self._log.close()
        return self.process.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def requests_counted(metrics_text, endpoint):
    """How many requests to `endpoint` a service's /metrics text counts (all workers added)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "enrs_http_requests_total" and sample.labels["endpoint"] == endpoint
    )


def _worker_options(threads):
    if threads is None:
        return []
    if threads > 1:
        return ["--worker-class", "gthread", "--threads", str(threads)]
    return ["--worker-class", "sync"]


def _no_control_socket():
    # gunicorn 27's control socket is one path per user, which parallel test runs would share.
    import gunicorn

    return ["--no-control-socket"] if gunicorn.version_info >= (27,) else []
