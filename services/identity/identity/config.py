"""identity's settings, all from the environment (see servicekit.config)."""

from servicekit import common_config, env_int, env_str


def load():
    config = common_config("identity")
    config.update(
        # identity is its own issuer: OIDC_ISSUER is the public URL of this service.
        ACCESS_TOKEN_LIFETIME=env_int("ACCESS_TOKEN_LIFETIME", 300),
        REFRESH_TOKEN_LIFETIME=env_int("REFRESH_TOKEN_LIFETIME", 12 * 3600),
        SESSION_IDLE_SECONDS=env_int("SESSION_IDLE_SECONDS", 30 * 60),
        SESSION_MAX_SECONDS=env_int("SESSION_MAX_SECONDS", 12 * 3600),
        SIGNING_KEYS_DIR=env_str("SIGNING_KEYS_DIR", None),
    )
    return config
