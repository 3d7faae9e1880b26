"""Account administration for platform-admin, through identity's admin API."""

import functools

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal import forms, oidc
from portal.backends import ApiError, identity_api
from portal.views import login_required, path_id

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 20


def admin_required(view):
    """Pages for platform administrators only."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if "platform-admin" not in oidc.current_login().user.get("roles", []):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def qr_data_uri(uri):
    """The QR code of a provisioning URI, as an SVG data: URI."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


@bp.get("/comptes")
@admin_required
def accounts():
    """List and search the accounts."""
    try:
        search = forms.read_query(forms.Search)
    except forms.FormError:
        search = forms.Search()
    params = {"q": search.q, "offset": search.offset, "limit": PAGE_SIZE}
    try:
        page = identity_api("GET", "/api/v1/users", params=params)
    except ApiError as exc:
        return render_template("admin/accounts.html", page=None, search=search, error=exc.french())
    return render_template(
        "admin/accounts.html", page=page, search=search, error=None, page_size=PAGE_SIZE
    )


@bp.get("/comptes/nouveau")
@admin_required
def new_account():
    """The account creation form."""
    return render_template("admin/new_account.html", values={}, errors=[], roles=forms.ROLES)


@bp.post("/comptes/nouveau")
@admin_required
def create_account():
    """Create an account and show its TOTP provisioning URI and QR code, once."""
    values = {key: request.form.get(key, "") for key in ("username", "given_name", "family_name")}
    values.update(email=request.form.get("email", ""), rpps=request.form.get("rpps", ""))
    values["roles"] = request.form.getlist("roles")
    try:
        form = forms.read(forms.NewAccount, list_fields=("roles",))
        created = identity_api("POST", "/api/v1/users", json=form.payload())
    except forms.FormError as exc:
        return _new_account_again(values, forms.labels(exc.fields), None)
    except ApiError as exc:
        message = exc.french({409: _("Cet identifiant est déjà utilisé.")})
        return _new_account_again(values, forms.labels(exc.fields), message)
    uri = created["totp_provisioning_uri"]
    return render_template(
        "admin/account_created.html", user=created["user"], uri=uri, qr=qr_data_uri(uri)
    )


def _new_account_again(values, fields, message):
    flash(message or _("Vérifiez : %(fields)s.", fields=", ".join(fields)), "error")
    return (
        render_template("admin/new_account.html", values=values, errors=fields, roles=forms.ROLES),
        422,
    )


@bp.get("/comptes/<user_id>")
@admin_required
def account(user_id):
    """One account: status, roles, and the actions on it."""
    try:
        user = identity_api("GET", f"/api/v1/users/{path_id(user_id)}")
    except ApiError as exc:
        flash(exc.french(), "error")
        return redirect(url_for("admin.accounts"))
    return render_template("admin/account.html", user=user, roles=forms.ROLES)


@bp.post("/comptes/<user_id>/desactiver")
@admin_required
def disable(user_id):
    """Disable an account (its sessions end)."""
    return _act(user_id, "disable", _("Le compte est désactivé."))


@bp.post("/comptes/<user_id>/reactiver")
@admin_required
def enable(user_id):
    """Re-enable an account."""
    return _act(user_id, "enable", _("Le compte est réactivé."))


def _act(user_id, action, done):
    try:
        identity_api("POST", f"/api/v1/users/{path_id(user_id)}/{action}")
        flash(done, "success")
    except ApiError as exc:
        flash(exc.french(), "error")
    return redirect(url_for("admin.account", user_id=user_id))


@bp.post("/comptes/<user_id>/roles")
@admin_required
def change_roles(user_id):
    """Replace the account's roles."""
    try:
        form = forms.read(forms.RoleChange, list_fields=("roles",))
        identity_api("PUT", f"/api/v1/users/{path_id(user_id)}/roles", json={"roles": form.roles})
        flash(_("Les rôles sont enregistrés."), "success")
    except forms.FormError:
        flash(_("Un des rôles choisis n’existe pas."), "error")
    except ApiError as exc:
        flash(exc.french(), "error")
    return redirect(url_for("admin.account", user_id=user_id))


@bp.post("/comptes/<user_id>/mfa/reinitialiser")
@admin_required
def reset_mfa(user_id):
    """Reset the account's second factor and show the new provisioning URI once."""
    try:
        result = identity_api("POST", f"/api/v1/users/{path_id(user_id)}/mfa/reset")
    except ApiError as exc:
        flash(exc.french(), "error")
        return redirect(url_for("admin.account", user_id=user_id))
    uri = result["totp_provisioning_uri"]
    return render_template(
        "admin/account_created.html", user=result["user"], uri=uri, qr=qr_data_uri(uri), reset=True
    )
