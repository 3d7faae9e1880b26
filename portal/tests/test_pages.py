"""The profile and administration pages, against identity's API as the contract describes it."""

import base64

import pytest

USER_ID = "5f0c2c1e-3d7a-4a53-9a43-2f3c1d0e7b11"
SESSION_ID = "Xq3_9a-Lm0pQ7rS2tU5vW8yZ1bC4dE6f"  # identity's ids are URL-safe random tokens
NEW_USER = {
    "id": "9a8b7c6d-0000-4000-8000-000000000001",
    "username": "lucie.bernard",
    "given_name": "Lucie",
    "family_name": "Bernard",
    "email": None,
    "rpps": None,
    "roles": ["clinician"],
    "disabled": False,
    "mfa_enabled": False,
    "created_at": "2026-11-29T09:00:00+00:00",
    "last_login_at": None,
}
URI = "otpauth://totp/ENRS:lucie.bernard?secret=JBSWY3DPEHPK3PXP&issuer=ENRS"


def _calls(issuer, method, path):
    return [
        call for call in issuer.api_requests if (call["method"], call["path"]) == (method, path)
    ]


def _account_form(**changes):
    form = {
        "username": "lucie.bernard",
        "given_name": "Lucie",
        "family_name": "Bernard",
        "email": "",
        "rpps": "",
        "roles": ["clinician"],
        "password": "Un mot de passe assez long 7",
    }
    form.update(changes)
    return form


def test_it_shows_the_profile_identity_knows(gp, issuer):
    page = gp.get("/profil").get_data(as_text=True)
    assert "Claire Martin" in page
    assert "10001234567" in page
    assert "Session actuelle" in page
    assert "La double authentification est activée." in page
    call = _calls(issuer, "GET", "/api/v1/me")[-1]
    assert call["headers"]["Authorization"].startswith("Bearer ey")


def test_it_shows_dates_in_the_regions_time_and_roles_by_their_french_names(gp, issuer):
    page = gp.get("/profil").get_data(as_text=True)
    # 08:05 UTC is 09:05 in Paris in November
    assert "29/11/2026 09:05" in page
    assert "2026-11-29T08:05:00" not in page
    assert "Clinicien" in page


def test_it_ends_one_of_the_users_sessions_at_identity(gp, issuer, csrf_token):
    issuer.api[f"DELETE /api/v1/me/sessions/{SESSION_ID}"] = (204, None)
    token = csrf_token(gp, "/profil")
    response = gp.post(f"/profil/sessions/{SESSION_ID}/fin", data={"csrf_token": token})
    assert response.status_code == 302
    assert _calls(issuer, "DELETE", f"/api/v1/me/sessions/{SESSION_ID}")
    assert "La session a été fermée." in gp.get("/profil").get_data(as_text=True)


def test_it_shows_a_new_devices_qr_code_as_an_image_that_cannot_run_script(gp, issuer, csrf_token):
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    issuer.api["POST /api/v1/me/totp"] = (
        201,
        {"device_id": "d-1", "secret": "JBSWY3DPEHPK3PXP", "provisioning_uri": URI, "qr_svg": svg},
    )
    token = csrf_token(gp, "/profil")
    page = gp.post("/profil/totp", data={"label": "Téléphone", "csrf_token": token})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>" not in html
    assert f'src="data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}"' in html
    assert _calls(issuer, "POST", "/api/v1/me/totp")[-1]["json"] == {"label": "Téléphone"}


def test_it_says_in_french_when_the_device_code_is_wrong(gp, issuer, csrf_token):
    issuer.api["POST /api/v1/me/totp/d-1/confirm"] = (422, {"error": "The code is not valid."})
    token = csrf_token(gp, "/profil")
    gp.post("/profil/totp/d-1/confirmer", data={"code": "123456", "csrf_token": token})
    assert "Ce code n’est pas valide ; réessayez." in gp.get("/profil").get_data(as_text=True)


def test_it_checks_the_device_code_before_calling_identity(gp, issuer, csrf_token):
    token = csrf_token(gp, "/profil")
    gp.post("/profil/totp/d-1/confirmer", data={"code": "12a", "csrf_token": token})
    assert not _calls(issuer, "POST", "/api/v1/me/totp/d-1/confirm")
    assert "Le code doit comporter 6 chiffres." in gp.get("/profil").get_data(as_text=True)


def test_it_says_in_french_when_identity_does_not_answer(gp, app):
    app.config["IDENTITY_URL"] = "http://127.0.0.1:9"
    response = gp.get("/profil")
    assert response.status_code == 502
    assert "momentanément indisponible" in response.get_data(as_text=True)


def test_it_lists_and_searches_accounts_for_an_admin(gcs_admin, issuer):
    issuer.api["GET /api/v1/users"] = (200, {"items": [NEW_USER], "total": 1})
    page = gcs_admin.get("/admin/comptes?q=lucie").get_data(as_text=True)
    assert "lucie.bernard" in page
    assert _calls(issuer, "GET", "/api/v1/users")[-1]["query"] == {
        "q": ["lucie"],
        "offset": ["0"],
        "limit": ["20"],
    }


def test_it_shows_the_provisioning_uri_and_qr_code_once_after_creating_an_account(
    gcs_admin, issuer, csrf_token
):
    issuer.api["POST /api/v1/users"] = (201, {"user": NEW_USER, "totp_provisioning_uri": URI})
    token = csrf_token(gcs_admin, "/admin/comptes/nouveau")
    response = gcs_admin.post(
        "/admin/comptes/nouveau", data={**_account_form(), "csrf_token": token}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert URI.replace("&", "&amp;") in html
    assert 'src="data:image/svg+xml' in html
    sent = _calls(issuer, "POST", "/api/v1/users")[-1]["json"]
    assert sent == {
        "username": "lucie.bernard",
        "given_name": "Lucie",
        "family_name": "Bernard",
        "roles": ["clinician"],
        "password": "Un mot de passe assez long 7",
    }


def test_it_keeps_the_input_and_explains_in_french_when_the_username_is_taken(
    gcs_admin, issuer, csrf_token
):
    issuer.api["POST /api/v1/users"] = (409, {"error": "This username is taken.", "details": {}})
    token = csrf_token(gcs_admin, "/admin/comptes/nouveau")
    form = _account_form(rpps="10009876543")
    response = gcs_admin.post("/admin/comptes/nouveau", data={**form, "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Cet identifiant est déjà utilisé." in html
    assert 'value="lucie.bernard"' in html
    assert 'value="10009876543"' in html
    assert 'value="clinician" checked' in html
    assert "Un mot de passe assez long 7" not in html


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("rpps", "123", "Numéro RPPS"),
        ("username", "Lucie Bernard", "Identifiant"),
        ("password", "court", "Mot de passe"),
        ("roles", ["super-admin"], "Rôles"),
    ],
)
def test_it_checks_the_new_account_form_before_calling_identity(
    gcs_admin, issuer, csrf_token, field, value, label
):
    token = csrf_token(gcs_admin, "/admin/comptes/nouveau")
    form = _account_form(**{field: value})
    response = gcs_admin.post("/admin/comptes/nouveau", data={**form, "csrf_token": token})
    assert response.status_code == 422
    assert f"Vérifiez : {label}." in response.get_data(as_text=True)
    assert not _calls(issuer, "POST", "/api/v1/users")


def test_it_disables_an_account_through_identity(gcs_admin, issuer, csrf_token):
    issuer.api[f"GET /api/v1/users/{USER_ID}"] = (200, {**NEW_USER, "id": USER_ID})
    issuer.api[f"POST /api/v1/users/{USER_ID}/disable"] = (200, {**NEW_USER, "disabled": True})
    token = csrf_token(gcs_admin, f"/admin/comptes/{USER_ID}")
    response = gcs_admin.post(f"/admin/comptes/{USER_ID}/desactiver", data={"csrf_token": token})
    assert response.headers["Location"] == f"/admin/comptes/{USER_ID}"
    assert _calls(issuer, "POST", f"/api/v1/users/{USER_ID}/disable")
    page = gcs_admin.get(f"/admin/comptes/{USER_ID}").get_data(as_text=True)
    assert "Le compte est désactivé." in page


def test_it_replaces_the_roles_of_an_account(gcs_admin, issuer, csrf_token):
    issuer.api[f"GET /api/v1/users/{USER_ID}"] = (200, {**NEW_USER, "id": USER_ID})
    issuer.api[f"PUT /api/v1/users/{USER_ID}/roles"] = (200, NEW_USER)
    token = csrf_token(gcs_admin, f"/admin/comptes/{USER_ID}")
    form = {"roles": ["rcp-member", "clinician"], "csrf_token": token}
    gcs_admin.post(f"/admin/comptes/{USER_ID}/roles", data=form)
    sent = _calls(issuer, "PUT", f"/api/v1/users/{USER_ID}/roles")[-1]["json"]
    assert sent == {"roles": ["clinician", "rcp-member"]}


def test_it_shows_the_new_provisioning_uri_after_a_second_factor_reset(
    gcs_admin, issuer, csrf_token
):
    issuer.api[f"GET /api/v1/users/{USER_ID}"] = (200, {**NEW_USER, "id": USER_ID})
    issuer.api[f"POST /api/v1/users/{USER_ID}/mfa/reset"] = (
        200,
        {"user": NEW_USER, "totp_provisioning_uri": URI},
    )
    token = csrf_token(gcs_admin, f"/admin/comptes/{USER_ID}")
    response = gcs_admin.post(
        f"/admin/comptes/{USER_ID}/mfa/reinitialiser", data={"csrf_token": token}
    )
    assert "Double authentification réinitialisée" in response.get_data(as_text=True)


def test_it_refuses_an_id_that_could_reach_another_identity_path(gcs_admin):
    assert gcs_admin.get("/admin/comptes/..%2F..%2Fjwks.json").status_code == 404


def test_it_logs_the_browser_out_when_the_user_ends_its_own_session(
    client, personas, issuer, csrf_token
):
    personas.login(client, "gp-1", ["clinician"], sid=SESSION_ID)
    issuer.api[f"DELETE /api/v1/me/sessions/{SESSION_ID}"] = (204, None)
    token = csrf_token(client, "/profil")
    response = client.post(f"/profil/sessions/{SESSION_ID}/fin", data={"csrf_token": token})
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"].startswith("/auth/login")
