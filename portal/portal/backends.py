"""Calls from the portal to the services, with the logged-in user's access token."""

import logging

import requests
from flask import current_app
from flask_babel import lazy_gettext as _l
from requests.adapters import HTTPAdapter, Retry
from servicekit.requestid import HEADER as REQUEST_ID_HEADER
from servicekit.requestid import current_request_id

from portal import oidc
from portal.perthread import PerThread

log = logging.getLogger(__name__)

TIMEOUT = 10

FRENCH_MESSAGES = {
    400: _l("Les informations envoyées ne sont pas valides."),
    401: _l("Votre session a expiré ; reconnectez-vous."),
    403: _l("Vos droits ne permettent pas cette action."),
    404: _l("L’élément demandé n’existe pas ou plus."),
    409: _l("Cette opération entre en conflit avec l’état actuel."),
    413: _l("Les données envoyées sont trop volumineuses."),
    422: _l("Cette opération enfreint une règle ; vérifiez les informations saisies."),
    429: _l("Trop de tentatives ; réessayez dans quelques instants."),
}
UNAVAILABLE = _l("Le service est momentanément indisponible ; réessayez plus tard.")


class ApiError(Exception):
    """A service answered with an error, or did not answer."""

    def __init__(self, status, message="", details=None):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.details = details or {}

    def french(self, overrides=None):
        """A sentence a user can read, in the user's language."""
        messages = {**FRENCH_MESSAGES, **(overrides or {})}
        return str(messages.get(self.status, UNAVAILABLE))

    @property
    def fields(self):
        """The names of the fields the service refused, if it said so."""
        fields = self.details.get("fields") if isinstance(self.details, dict) else None
        return sorted(fields) if isinstance(fields, dict) else []


# A kept connection the service closed as it went idle fails the request sent on it: a read
# (GET) is sent again once on a new connection; a write, never (it may have been applied).
_RETRY = Retry(total=1, connect=1, read=1, status=0, allowed_methods=frozenset({"GET", "HEAD"}))


def _pooled_session(_key):
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=_RETRY)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# A thread's calls to a service reuse its connection (the services keep connections alive,
# decision 33) rather than connect for every call.
_sessions = PerThread(_pooled_session)


def http_session():
    """This thread's pooled session."""
    return _sessions.get()


def _send(method, url, token, json, params, files=None, data=None):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    request_id = current_request_id()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    try:
        return http_session().request(
            method,
            url,
            headers=headers,
            json=json,
            params=params,
            files=files,
            data=data,
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        log.warning("service unreachable", extra={"error": type(exc).__name__})
        raise ApiError(503) from exc


def _error(response):
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return ApiError(response.status_code, str(body.get("error", "")), body.get("details"))


def _token(force_refresh=False):
    try:
        return oidc.access_token(force_refresh=force_refresh)
    except oidc.IdentityUnreachable as exc:
        raise ApiError(503) from exc


def _rewind(files):
    for _name, (_filename, stream, *_rest) in (files or {}).items():
        stream.seek(0)


def call(url_setting, method, path, json=None, params=None, files=None, data=None):
    """Call a service as the logged-in user; its JSON answer, or ApiError / LoginRequired."""
    base = current_app.config.get(url_setting)
    if not base:
        raise ApiError(503, "service not deployed")
    url = base.rstrip("/") + path
    response = _send(method, url, _token(), json, params, files, data)
    if response.status_code == 401:
        # The token may have been revoked or its key rotated: one fresh token, then give up.
        _rewind(files)
        response = _send(method, url, _token(force_refresh=True), json, params, files, data)
        if response.status_code == 401:
            raise oidc.LoginRequired
    if response.status_code >= 400:
        raise _error(response)
    return response.json() if response.content else None


def identity_api(method, path, json=None, params=None):
    """Call identity's JSON API as the logged-in user."""
    return call("IDENTITY_URL", method, path, json=json, params=params)


def service_api(url_setting, method, path, **request):
    """Call another service's API as the logged-in user (json, params, files, data)."""
    return call(url_setting, method, path, **request)
