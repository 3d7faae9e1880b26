"""The portal's health endpoints, as an orchestrator reads them."""


def test_it_is_ready_once_every_migration_is_applied(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["checks"] == {"database": "ok", "migrations": "ok"}
