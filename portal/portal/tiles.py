"""The home page's tiles: one per service the user's roles allow and that answers /healthz."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from flask import current_app
from flask_babel import lazy_gettext as _l

EXTENSION = "portal.health"
PROFESSIONALS = frozenset(
    {"clinician", "stroke-requester", "stroke-neurologist", "rcp-member", "rcp-coordinator"}
)


@dataclass(frozen=True)
class Service:
    """A service of the platform as the portal shows it."""

    key: str
    title: object
    description: object
    url_setting: str
    roles: frozenset


SERVICES = (
    Service(
        "annuaire",
        _l("Annuaire santé"),
        _l("Trouver un professionnel ou un établissement de la région."),
        "DIRECTORY_URL",
        PROFESSIONALS,
    ),
    Service(
        "dossier",
        _l("Dossier partagé"),
        _l("Consulter les documents partagés de vos patients."),
        "RECORDS_BRIDGE_URL",
        frozenset({"clinician"}),
    ),
    Service(
        "rcp",
        _l("RCP oncologie"),
        _l("Réunions de concertation pluridisciplinaire : dossiers, quorum, avis."),
        "ONCOLOGY_RCP_URL",
        frozenset({"rcp-member", "rcp-coordinator"}),
    ),
    Service(
        "tele-avc",
        _l("Télé-AVC"),
        _l("Alertes AVC, astreinte neurologique et téléconsultations."),
        "TELEMEDICINE_URL",
        frozenset({"stroke-requester", "stroke-neurologist"}),
    ),
    Service(
        "messagerie",
        _l("Messagerie sécurisée"),
        _l("Échanger des messages et des documents entre professionnels."),
        "SECURE_MESSAGING_URL",
        PROFESSIONALS,
    ),
    Service(
        "administration",
        _l("Administration"),
        _l("Gérer les comptes, les rôles et l’authentification à deux facteurs."),
        "IDENTITY_URL",
        frozenset({"platform-admin"}),
    ),
)


class HealthCache:
    """Remembers, for a few seconds, whether each service answered its /healthz."""

    def __init__(self, timeout, ttl):
        self.timeout = timeout
        self.ttl = ttl
        self._seen = {}
        self._lock = threading.Lock()

    def _fresh(self, url):
        with self._lock:
            seen = self._seen.get(url)
        if seen and time.monotonic() - seen[0] < self.ttl:
            return seen[1]
        return None

    def _check(self, url):
        try:
            healthy = requests.get(url.rstrip("/") + "/healthz", timeout=self.timeout).ok
        except requests.RequestException:
            healthy = False
        with self._lock:
            self._seen[url] = (time.monotonic(), healthy)
        return healthy

    def healthy(self, urls):
        """{url: bool} for every url, checking the stale ones in parallel."""
        result = {url: self._fresh(url) for url in urls}
        stale = [url for url, known in result.items() if known is None]
        if stale:
            with ThreadPoolExecutor(max_workers=len(stale)) as pool:
                result.update(zip(stale, pool.map(self._check, stale), strict=True))
        return result


def allowed(service, roles):
    """True when one of the user's roles opens this service."""
    return bool(service.roles & set(roles))


def tiles_for(roles, app=None):
    """The services to show: allowed by the roles, configured, and answering right now."""
    app = app or current_app
    candidates = [
        service
        for service in SERVICES
        if allowed(service, roles) and app.config.get(service.url_setting)
    ]
    urls = {app.config[service.url_setting] for service in candidates}
    health = app.extensions[EXTENSION].healthy(sorted(urls))
    return [service for service in candidates if health[app.config[service.url_setting]]]


def service(key):
    """The service with that key, or None."""
    return next((candidate for candidate in SERVICES if candidate.key == key), None)


def init_app(app):
    app.extensions[EXTENSION] = HealthCache(
        app.config.get("HEALTH_CHECK_TIMEOUT", 0.5), app.config.get("HEALTH_CACHE_SECONDS", 10)
    )
