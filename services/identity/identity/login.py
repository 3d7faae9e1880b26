"""The sign-in page (/login) and the signed-in landing page, in French."""

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from servicekit import db
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from identity import authn, sessions

bp = Blueprint("login", __name__, template_folder="templates", static_folder="static")

FAILED = "Identifiant, mot de passe ou code incorrect."
THROTTLED = "Trop de tentatives depuis votre poste. Réessayez dans quelques minutes."
EXPIRED_FORM = "Le formulaire a expiré. Merci de le soumettre à nouveau."

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
    # No form-action: browsers apply it to the redirects that follow the form (to /authorize,
    # then to the client's redirect URI), which would break single sign-on.
    "frame-ancestors 'none'"
)


class LoginForm(FlaskForm):
    username = StringField("Identifiant", validators=[InputRequired(), Length(max=64)])
    password = PasswordField("Mot de passe", validators=[InputRequired(), Length(max=1024)])
    code = StringField(
        "Code à usage unique (6 chiffres)", validators=[InputRequired(), Length(min=6, max=6)]
    )


def safe_next(value):
    """value if it is a path on identity itself, else "/" (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 32 or ord(char) == 127 or char == "\\" for char in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _client_ip():
    # ProxyFix (set up in create_app when behind a proxy) makes remote_addr the client's.
    return request.remote_addr or "unknown"


@bp.after_app_request
def _security_headers(response):
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; on valid credentials open a session and go to `next`."""
    next_url = safe_next(request.values.get("next"))
    form = LoginForm()
    if request.method == "GET":
        return _page(form, next_url)
    if not form.validate():
        return _refused(form, next_url)
    return _sign_in(form, next_url)


def _refused(form, next_url):
    if "csrf_token" in form.errors:
        return _page(form, next_url, EXPIRED_FORM, 400)
    return _page(form, next_url, FAILED, 401)


def _sign_in(form, next_url):
    db_session = db.session()
    try:
        user = authn.authenticate(
            db_session, form.username.data, form.password.data, form.code.data, _client_ip()
        )
    except authn.Throttled:
        return _page(form, next_url, THROTTLED, 429)
    except authn.LoginFailed:
        db_session.commit()
        return _page(form, next_url, FAILED, 401)
    current = sessions.current_login(db_session)
    if current is not None:
        sessions.end_login_session(db_session, current, "replaced")
    login_session = sessions.start_login(db_session, user, acr="mfa")
    authn.record_login(db_session, user, login_session)
    from identity.oauth.endpoints import authorize_after_sign_in

    response = authorize_after_sign_in(login_session, next_url) or redirect(next_url)
    db_session.commit()
    return response


def sign_in_page(next_url):
    """The sign-in form, which leads to `next_url` (a path on identity) once signed in."""
    return _page(LoginForm(), safe_next(next_url))


def _page(form, next_url, error=None, status=200):
    form.password.data = None
    form.code.data = None
    invalid = error == FAILED
    html = render_template("login.html", form=form, next_url=next_url, error=error, invalid=invalid)
    return html, status


@bp.get("/")
def home():
    """Who is signed in here, if anyone."""
    db_session = db.session()
    login_session = sessions.current_login(db_session)
    db_session.commit()
    if login_session is None:
        return redirect(url_for("login.login"))
    return render_template("home.html", user=login_session.user)
