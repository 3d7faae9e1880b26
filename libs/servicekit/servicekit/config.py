"""Environment configuration: every setting is read here, secrets may come from NAME_FILE."""

import os
from pathlib import Path

_MISSING = object()


class ConfigError(RuntimeError):
    """A required setting is missing or has a value that cannot be used."""


def _raw(name, default):
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE points to {file_name!r}, which cannot be read") from exc
    value = os.environ.get(name)
    if value is not None and value != "":
        return value
    if default is _MISSING:
        raise ConfigError(f"the environment variable {name} (or {name}_FILE) is required")
    return default


def env_str(name, default=_MISSING):
    """A string setting; without a default, a missing value stops the boot."""
    return _raw(name, default)


def env_secret(name, default=_MISSING):
    """A secret setting: read from NAME_FILE when set (container secrets), else from NAME."""
    return _raw(name, default)


def env_int(name, default=_MISSING):
    """An integer setting; a value that is not an integer stops the boot."""
    value = _raw(name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from exc


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name, default=_MISSING):
    """A boolean setting written 1/0, true/false, yes/no or on/off."""
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {value!r}")


def env_list(name, default=_MISSING):
    """A comma-separated list setting."""
    value = _raw(name, default)
    if isinstance(value, list | tuple):
        return list(value)
    return [item.strip() for item in str(value).split(",") if item.strip()]
