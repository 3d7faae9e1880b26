"""The pages every user sees: home with the service tiles, a service's page, the profile."""

import base64
import functools
import re

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from portal import forms, oidc, tiles
from portal.auth import safe_next
from portal.backends import ApiError, identity_api
from portal.web import LANGUAGES

bp = Blueprint("views", __name__)
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


def login_required(view):
    """Pages for logged-in users only: others go through identity's login first."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if oidc.current_login() is None:
            raise oidc.LoginRequired
        return view(*args, **kwargs)

    return wrapped


def svg_data_uri(svg):
    """An SVG as a data: URI, shown in an <img> so that its markup never runs in the page."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@bp.get("/")
@login_required
def home():
    """The single access point: one tile per service the user may use and that is running."""
    user = oidc.current_login().user
    return render_template("home.html", tiles=tiles.tiles_for(user["roles"]))


# Services whose screens the portal already has: their tile opens them.
OWN_PAGES = {"administration": "admin.accounts", "annuaire": "directory.search"}


@bp.get("/services/<key>")
@login_required
def service_page(key):
    """A service's entry in the portal."""
    service = tiles.service(key)
    if service is None or not tiles.allowed(service, oidc.current_login().user["roles"]):
        abort(404)
    if service.key in OWN_PAGES:
        return redirect(url_for(OWN_PAGES[service.key]))
    return render_template("service.html", service=service)


@bp.post("/langue")
def language():
    """The language switch."""
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return redirect(safe_next(request.form.get("next")))


@bp.get("/profil")
@login_required
def profile():
    """The user's profile: identity, roles, active sessions and second factor, from identity."""
    try:
        me = identity_api("GET", "/api/v1/me")
    except ApiError as exc:
        return render_template("profile.html", me=None, error=exc.french()), 502
    return render_template("profile.html", me=me, error=None)


@bp.post("/profil/sessions/<session_id>/fin")
@login_required
def end_session(session_id):
    """End one of the user's identity sessions (identity then logs it out everywhere)."""
    try:
        identity_api("DELETE", f"/api/v1/me/sessions/{path_id(session_id)}")
    except ApiError as exc:
        flash(exc.french(), "error")
        return redirect(url_for("views.profile"))
    if session_id == oidc.current_login().sid:
        # The session this browser uses: identity's back-channel call may not have reached us yet.
        session.end()
        return redirect(url_for("views.home"))
    flash(_("La session a été fermée."), "success")
    return redirect(url_for("views.profile"))


@bp.post("/profil/totp")
@login_required
def enrol_device():
    """Start enrolling a TOTP device: show its QR code and ask for a first code."""
    try:
        form = forms.read(forms.NewDevice)
        device = identity_api("POST", "/api/v1/me/totp", json={"label": form.label})
    except forms.FormError as exc:
        flash(_("Vérifiez : %(fields)s.", fields=", ".join(forms.labels(exc.fields))), "error")
        return redirect(url_for("views.profile"))
    except ApiError as exc:
        flash(exc.french(), "error")
        return redirect(url_for("views.profile"))
    qr = svg_data_uri(device["qr_svg"]) if device.get("qr_svg") else None
    return render_template("totp_enrol.html", device=device, qr=qr, label=form.label)


@bp.post("/profil/totp/<device_id>/confirmer")
@login_required
def confirm_device(device_id):
    """Confirm a new TOTP device with a code it shows."""
    try:
        form = forms.read(forms.DeviceCode)
        identity_api(
            "POST", f"/api/v1/me/totp/{path_id(device_id)}/confirm", json={"code": form.code}
        )
        flash(_("L’appareil est confirmé."), "success")
    except forms.FormError:
        flash(_("Le code doit comporter 6 chiffres."), "error")
    except ApiError as exc:
        flash(exc.french({422: _("Ce code n’est pas valide ; réessayez.")}), "error")
    return redirect(url_for("views.profile"))


def path_id(value):
    """An id safe to put in a service's path (ids are UUIDs or URL-safe random tokens)."""
    if not SAFE_ID.fullmatch(value):
        abort(404)
    return value
