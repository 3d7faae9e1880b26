"""What every page gets: security headers, French HTML errors, language and the logged-in user."""

import datetime as dt
import logging
from urllib.parse import urlsplit

from flask import redirect, render_template, request, session, url_for
from flask_babel import Babel, format_datetime
from flask_wtf.csrf import CSRFError, CSRFProtect
from servicekit import db
from werkzeug.exceptions import HTTPException

from portal import forms, oidc

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
csrf = CSRFProtect()


def content_security_policy(app):
    """The CSP: our own files only, no inline script or style, no framing."""
    form_action = "'self'"
    issuer = urlsplit(app.config["OIDC_ISSUER"])
    if issuer.scheme and issuer.netloc:
        # Logging out posts to the portal, which redirects to identity's logout endpoint.
        form_action += f" {issuer.scheme}://{issuer.netloc}"
    return (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        f"form-action {form_action}; frame-ancestors 'none'"
    )


def _security_headers(app):
    policy = content_security_policy(app)
    https = (app.config.get("ENRS_PUBLIC_URL") or "").startswith("https://")

    def add_headers(response):
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if https:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.after_request(add_headers)


def select_language():
    """The language chosen with the switch, French otherwise."""
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def _html_error(exc):
    status = exc.code or 500
    return render_template("error.html", status=status), status


def _csrf_error(_exc):
    return render_template("error.html", status=400, csrf=True), 400


def _unexpected_error(exc):
    if isinstance(exc, HTTPException):
        return _html_error(exc)
    db.rollback_quietly()
    log.exception("unhandled error")
    return render_template("error.html", status=500), 500


def _login_required(_exc):
    if oidc.current_login() is not None:
        session.end()  # its tokens can no longer be refreshed
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("auth.login"))


def when(value):
    """An ISO 8601 timestamp from an API, as a date and time the reader's locale expects
    (in the region's time zone); anything else is shown as it came."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return value
    return format_datetime(moment, "short")


def role_label(role):
    """A platform role by its name in the reader's language."""
    return str(forms.ROLE_LABELS.get(role, role))


def _template_context():
    login = oidc.current_login()
    return {
        "current_user": login.user if login else None,
        "current_language": select_language(),
        "languages": LANGUAGES,
        "role_label": role_label,
    }


def init_app(app):
    """Attach CSRF protection, headers, languages and HTML error pages to the app."""
    app.config["SERVICEKIT_JSON_ERRORS"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    csrf.init_app(app)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Paris")
    Babel(app, locale_selector=select_language, default_locale=DEFAULT_LANGUAGE)
    app.add_template_filter(when)
    app.add_template_filter(role_label)
    _security_headers(app)
    app.context_processor(_template_context)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _html_error)
    app.register_error_handler(oidc.LoginRequired, _login_required)
    # Replaces the kit's JSON 500 answer: the portal's users read HTML.
    app.register_error_handler(Exception, _unexpected_error)
