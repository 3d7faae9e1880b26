"""directory's settings, all from the environment (see servicekit.config)."""

from servicekit import common_config, env_int, env_str

# An uploaded national extract is large (the full personne-activité file is ~1 GB unzipped).
IMPORT_MAX_BYTES = 2 * 1024 * 1024 * 1024


def load():
    config = common_config("directory")
    config.update(
        IMPORT_DIR=env_str("IMPORT_DIR", "var/directory-imports"),
        IMPORT_MAX_BYTES=env_int("IMPORT_MAX_BYTES", IMPORT_MAX_BYTES),
        IMPORT_BATCH_SIZE=env_int("IMPORT_BATCH_SIZE", 2000),
        # A running import whose worker has not committed a batch for this long was abandoned.
        IMPORT_LEASE_SECONDS=env_int("IMPORT_LEASE_SECONDS", 600),
    )
    return config
