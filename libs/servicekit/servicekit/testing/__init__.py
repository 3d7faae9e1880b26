"""Test helpers shared by every service.

Tokens signed by a test key served on a real JWKS endpoint (`SigningKey`, `JwksServer`,
`TokenFactory`); outbox reading (`emitted`); handler tests without a broker (`make_event`,
`deliver`); databases migrated once and emptied per test (`TestDatabase`; PostgreSQL when
ENRS_TEST_DATABASE_URL is set); the local broker (`TansuBroker`, `read_events`); services run
for real (`ServiceProcess`); polling with a deadline instead of sleeping (`eventually`).
"""

from servicekit.testing.broker import TansuBroker, read_events, read_records
from servicekit.testing.common import (
    LoopbackServer,
    emitted,
    eventually,
    free_port,
    in_ci,
    skip_or_fail,
)
from servicekit.testing.database import (
    TestDatabase,
    database_url,
    drop_postgres_database,
    fresh_postgres_database,
    postgres_url,
)
from servicekit.testing.events import deliver, make_event
from servicekit.testing.process import ServiceProcess, WorkerProcess, requests_counted
from servicekit.testing.tokens import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    JwksServer,
    SigningKey,
    TokenFactory,
)

__all__ = [
    "TEST_AUDIENCE",
    "TEST_ISSUER",
    "JwksServer",
    "LoopbackServer",
    "ServiceProcess",
    "SigningKey",
    "TansuBroker",
    "TestDatabase",
    "TokenFactory",
    "WorkerProcess",
    "database_url",
    "deliver",
    "drop_postgres_database",
    "emitted",
    "eventually",
    "free_port",
    "fresh_postgres_database",
    "in_ci",
    "make_event",
    "postgres_url",
    "read_events",
    "read_records",
    "requests_counted",
    "skip_or_fail",
]
