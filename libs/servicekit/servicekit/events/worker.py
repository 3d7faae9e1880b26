"""The worker process (`flask --app <pkg> worker`): relay the outbox, consume subscribed topics.

It applies the service's migrations at start, then loops. A broker outage is retried with a
growing delay (capped); SIGTERM or SIGINT ends the loop after the current item, and the
producer and consumer are closed (the consumer leaves its group).
"""

import importlib
import importlib.util
import logging
import signal
import threading

from servicekit import db
from servicekit.events import kafka
from servicekit.events.consumer import TRANSIENT_ERRORS, Consumer
from servicekit.events.registry import handlers_by_type
from servicekit.events.relay import Relay
from servicekit.topics import EVENT_TYPES, TOPICS, dlq_of

log = logging.getLogger(__name__)

MIN_BACKOFF = 0.5
MAX_BACKOFF = 5.0
IDLE_WAIT = 0.5
# app.extensions[JOBS]: callables job(app) -> items done, run once per loop (e.g. queued imports).
JOBS = "servicekit.worker.jobs"


def topics_of(event_types):
    """The topics carrying the given event types."""
    return sorted({EVENT_TYPES[name].topic for name in event_types})


class Worker:
    """Relay and consumer of one service; `run()` loops until `stop()`."""

    def __init__(self, app, handlers=None, bootstrap=None):
        self.app = app
        self.name = app.name
        self.bootstrap = bootstrap or app.config["KAFKA_BOOTSTRAP_SERVERS"]
        self.timeout_ms = app.config.get("KAFKA_TIMEOUT_MS", kafka.TIMEOUT_MS)
        package = app.import_name.split(".")[0]
        self.handlers = handlers if handlers is not None else handlers_by_type(package)
        self.topics = topics_of(self.handlers)
        self.stopping = threading.Event()
        self.relay = Relay(db.database(app), self._producer, self.name)
        self.consumer = None
        self.delay = MIN_BACKOFF

    def _producer(self):
        # Brokers may not auto-create topics; creating them is idempotent.
        topics = [*TOPICS, *(dlq_of(topic) for topic in TOPICS)]
        kafka.ensure_topics(self.bootstrap, topics, self.timeout_ms)
        return kafka.producer(self.bootstrap, self.timeout_ms)

    def _consumer(self):
        if self.consumer is None:
            kafka.ensure_topics(self.bootstrap, self.topics, self.timeout_ms)
            client = kafka.consumer(self.bootstrap, self.name, self.topics, self.timeout_ms)
            self.consumer = Consumer(
                db.database(self.app), client, self.handlers, self._producer, self.name
            )
        return self.consumer

    def step(self):
        """Run the jobs, relay one batch, process one poll of messages; how many items were done."""
        done = sum(job(self.app) or 0 for job in self.app.extensions.get(JOBS, ()))
        done += self.relay.run_once()
        if self.topics and not self.stopping.is_set():
            done += self._consumer().run_once(timeout_ms=200, stop=self.stopping)
        elif not done:
            self.stopping.wait(IDLE_WAIT)
        return done

    def run(self):
        """Loop until stop(); broker errors are logged and retried with backoff."""
        log.info("worker started", extra={"topics": self.topics})
        try:
            with self.app.app_context():
                while not self.stopping.is_set():
                    self._step_or_back_off()
        except Exception:
            # A broken state: log it and exit, so the supervisor restarts a clean worker.
            log.exception("worker stopped on an unexpected error")
            raise
        finally:
            self.close()
        log.info("worker stopped")

    def _step_or_back_off(self):
        try:
            self.step()
            self.delay = MIN_BACKOFF
        except TRANSIENT_ERRORS as exc:
            log.warning(
                "broker or database unavailable, retrying",
                extra={"error": type(exc).__name__, "retry_in": self.delay},
            )
            self.stopping.wait(self.delay)
            self.delay = min(self.delay * 2, MAX_BACKOFF)

    def stop(self, *_signal):
        """Ask the loop to end after the current item."""
        self.stopping.set()

    def close(self):
        """Close the producer and the consumer."""
        self.relay.close()
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None


def import_handlers(app):
    """Import `<package>.handlers`, if the service has one, so its handlers are registered."""
    module = app.import_name.split(".")[0] + ".handlers"
    if importlib.util.find_spec(module) is not None:
        importlib.import_module(module)


def prepare(app):
    """Migrate (unless MIGRATE_AT_START is false) and register the service's handlers."""
    from servicekit import migrations

    if app.config.get("MIGRATIONS_DIR") and app.config.get("MIGRATE_AT_START", True):
        migrations.upgrade(app)
    import_handlers(app)


def run_worker(app):
    """Body of `flask --app <pkg> worker`: migrate, then relay and consume until signalled."""
    prepare(app)
    worker = Worker(app)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
