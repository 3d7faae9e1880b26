"""identity's settings, all from the environment (see servicekit.config)."""

from servicekit import common_config, env_int, env_str

IDP_COOKIE = "enrs_idp"


def load():
    config = common_config("identity")
    config.update(
        # identity is its own issuer: OIDC_ISSUER is the public URL of this service.
        ACCESS_TOKEN_LIFETIME=env_int("ACCESS_TOKEN_LIFETIME", 300),
        REFRESH_TOKEN_LIFETIME=env_int("REFRESH_TOKEN_LIFETIME", 12 * 3600),
        SESSION_IDLE_SECONDS=env_int("SESSION_IDLE_SECONDS", 30 * 60),
        SESSION_MAX_SECONDS=env_int("SESSION_MAX_SECONDS", 12 * 3600),
        SIGNING_KEYS_DIR=env_str("SIGNING_KEYS_DIR", None),
        LOCKOUT_THRESHOLD=env_int("LOCKOUT_THRESHOLD", 5),
        LOCKOUT_BASE_SECONDS=env_int("LOCKOUT_BASE_SECONDS", 60),
        LOCKOUT_MAX_SECONDS=env_int("LOCKOUT_MAX_SECONDS", 3600),
        LOGIN_IP_MAX_FAILURES=env_int("LOGIN_IP_MAX_FAILURES", 50),
        LOGIN_IP_WINDOW_SECONDS=env_int("LOGIN_IP_WINDOW_SECONDS", 15 * 60),
        TRUSTED_PROXIES=env_int("TRUSTED_PROXIES", 0),
        # A client changed by another process (secret, redirect URIs) applies within this delay.
        OAUTH_CLIENT_CACHE_SECONDS=env_int("OAUTH_CLIENT_CACHE_SECONDS", 10),
    )
    return config


def cookie_settings(config):
    """The browser-session cookie: `enrs_idp`, HttpOnly, SameSite=Lax, Secure over https."""
    public_url = config.get("OIDC_ISSUER") or config.get("ENRS_PUBLIC_URL") or ""
    return {
        "SESSION_COOKIE_NAME": IDP_COOKIE,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
    }
