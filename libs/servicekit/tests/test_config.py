"""Settings come from the environment or NAME_FILE; a missing or bad one stops the boot clearly."""

import pytest
from servicekit import common_config
from servicekit.config import ConfigError, env_bool, env_int, env_list, env_secret, env_str


def test_it_reads_a_secret_from_its_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("from-the-file\n")
    monkeypatch.setenv("SECRET_KEY", "from-the-variable")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert env_secret("SECRET_KEY") == "from-the-file"


def test_it_names_the_unreadable_file_of_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="SECRET_KEY_FILE"):
        env_secret("SECRET_KEY")


def test_it_names_a_missing_required_variable(monkeypatch):
    monkeypatch.delenv("ENRS_SOMETHING", raising=False)
    monkeypatch.delenv("ENRS_SOMETHING_FILE", raising=False)
    with pytest.raises(ConfigError, match=r"ENRS_SOMETHING \(or ENRS_SOMETHING_FILE\) is required"):
        env_str("ENRS_SOMETHING")


def test_it_treats_an_empty_variable_as_missing(monkeypatch):
    monkeypatch.setenv("ENRS_SOMETHING", "")
    assert env_str("ENRS_SOMETHING", "fallback") == "fallback"


def test_it_refuses_an_integer_that_is_not_one(monkeypatch):
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "a lot")
    with pytest.raises(ConfigError, match="MAX_CONTENT_LENGTH must be an integer"):
        env_int("MAX_CONTENT_LENGTH")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("ON", True), ("0", False)])
def test_it_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("ENRS_FLAG", raw)
    assert env_bool("ENRS_FLAG") is expected


def test_it_refuses_a_boolean_it_cannot_read(monkeypatch):
    monkeypatch.setenv("ENRS_FLAG", "perhaps")
    with pytest.raises(ConfigError, match="ENRS_FLAG must be a boolean"):
        env_bool("ENRS_FLAG")


def test_it_splits_a_list_on_commas(monkeypatch):
    monkeypatch.setenv("ENRS_HOSTS", " a.example, b.example ,,")
    assert env_list("ENRS_HOSTS") == ["a.example", "b.example"]


def test_it_stops_a_service_that_has_no_database_url(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL_FILE", raising=False)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        common_config("kitapp")


def test_it_gives_every_service_the_common_settings(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    monkeypatch.setenv("OIDC_ISSUER", "http://localhost:8001")
    monkeypatch.delenv("OIDC_AUDIENCE", raising=False)
    settings = common_config("telemedicine")
    assert settings["SECRET_KEY"] == "s3cret"
    assert settings["OIDC_AUDIENCE"] == "enrs-api"
    assert settings["EVENT_SOURCE"] == "/enrs/telemedicine"
