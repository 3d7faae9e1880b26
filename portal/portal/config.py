"""The portal's settings, all from the environment (see servicekit.config)."""

from servicekit import common_config, env_int, env_secret, env_str

# The services the portal links to; an unset URL means the service is not deployed.
SERVICE_URL_SETTINGS = (
    "IDENTITY_URL",
    "DIRECTORY_URL",
    "RECORDS_BRIDGE_URL",
    "ONCOLOGY_RCP_URL",
    "TELEMEDICINE_URL",
    "SECURE_MESSAGING_URL",
)


def load():
    """The portal's settings; a missing required one stops the boot."""
    config = common_config("portal")
    config.update(
        # The portal's address as browsers see it: redirect URIs are built from it.
        ENRS_PUBLIC_URL=env_str("ENRS_PUBLIC_URL"),
        PORTAL_OIDC_CLIENT_ID=env_str("PORTAL_OIDC_CLIENT_ID", "portal"),
        PORTAL_OIDC_CLIENT_SECRET=env_secret("PORTAL_OIDC_CLIENT_SECRET"),
        PORTAL_SESSION_IDLE_SECONDS=env_int("PORTAL_SESSION_IDLE_SECONDS", 30 * 60),
        PORTAL_SESSION_MAX_SECONDS=env_int("PORTAL_SESSION_MAX_SECONDS", 12 * 3600),
        HEALTH_CHECK_TIMEOUT=float(env_str("HEALTH_CHECK_TIMEOUT", "0.5")),
        HEALTH_CACHE_SECONDS=env_int("HEALTH_CACHE_SECONDS", 10),
    )
    for name in SERVICE_URL_SETTINGS:
        config[name] = env_str(name, None)
    return config
