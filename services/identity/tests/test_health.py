"""identity's health endpoints, as an orchestrator reads them."""


def test_it_is_ready_once_every_migration_is_applied(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_it_is_alive_without_looking_at_its_dependencies(client):
    assert client.get("/healthz").json == {"status": "ok"}
