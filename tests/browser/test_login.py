"""In a real browser: single sign-on through identity, profile, logout, account administration."""

import re

import pyotp
import pytest
import requests
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def gp(platform):
    """A community doctor with an RPPS number."""
    return platform.add_persona(
        "claire.martin", "Claire", "Martin", "clinician", rpps="10001234567"
    )


@pytest.fixture(scope="module")
def gcs_admin(platform):
    """Regional GCS staff running the platform."""
    return platform.add_persona("paul.admin", "Paul", "Durand", "platform-admin")


@pytest.fixture(scope="module")
def neurologist(platform):
    """A neurologist on the stroke rota."""
    return platform.add_persona("marc.petit", "Marc", "Petit", "clinician", "stroke-neurologist")


def log_in(page, platform, persona):
    """Open the portal, pass identity's French login page, and land back on the portal."""
    page.goto(platform.portal.url + "/")
    expect(page).to_have_url(re.compile("^" + re.escape(platform.identity.url)))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill(persona.username)
    page.get_by_label("Mot de passe").fill(persona.password)
    page.get_by_label(re.compile("^Code")).fill(persona.code())
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(platform.portal.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bonjour {persona.given_name}")


def portal_cookie(context):
    return next(cookie for cookie in context.cookies() if cookie["name"] == "enrs_portal")


def test_a_gp_logs_in_once_sees_the_profile_and_logs_out_everywhere(
    platform, gp, context, chromium
):
    page = context.new_page()
    log_in(page, platform, gp)
    cookie = portal_cookie(context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()

    page.get_by_role("link", name="Mon profil").click()
    expect(page.get_by_role("heading", name="Mon profil")).to_be_visible()
    expect(page.get_by_text("10001234567")).to_be_visible()
    expect(page.get_by_text("Clinicien", exact=True)).to_be_visible()  # the role, in French
    expect(page.get_by_role("heading", name="Sessions actives")).to_be_visible()
    expect(page.get_by_text("Session actuelle")).to_be_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    # Logged out at identity too: the portal sends the browser to a fresh login page.
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    expect(page).to_have_url(re.compile("^" + re.escape(platform.identity.url)))

    replayed = chromium.new_context()
    replayed.add_cookies([cookie])
    again = replayed.new_page()
    again.goto(platform.portal.url + "/profil")
    expect(again.get_by_role("heading", name="Connexion")).to_be_visible()
    replayed.close()
    answer = requests.get(
        platform.portal.url + "/",
        cookies={"enrs_portal": cookie["value"]},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/auth/login")


def test_an_admin_creates_an_account_then_disables_it(platform, gcs_admin, context, chromium):
    page = context.new_page()
    log_in(page, platform, gcs_admin)
    page.get_by_role("link", name="Administration").first.click()
    expect(page.get_by_role("heading", name="Comptes")).to_be_visible()

    page.get_by_role("link", name="Créer un compte").click()
    page.get_by_label("Identifiant").fill("lucie.bernard")
    page.get_by_label("Prénom").fill("Lucie")
    page.get_by_label(re.compile("^Nom")).fill("Bernard")
    page.get_by_label("Numéro RPPS").fill("10009876543")
    page.get_by_label("Clinicien").check()
    page.get_by_label("Mot de passe initial").fill("Un autre mot de passe assez long 7")
    page.get_by_role("button", name="Créer le compte").click()

    expect(page.get_by_role("heading", name="Compte créé")).to_be_visible()
    uri = page.locator(".provisioning-uri").inner_text()
    assert uri.startswith("otpauth://totp/")
    expect(page.locator("img.qr")).to_be_visible()

    page.get_by_role("link", name="Voir le compte").click()
    expect(page.get_by_role("heading", name="Compte lucie.bernard")).to_be_visible()
    page.get_by_role("button", name="Désactiver le compte").click()
    expect(page.get_by_text("Le compte est désactivé.")).to_be_visible()
    expect(page.locator(".account-state")).to_have_text("désactivé")

    page.get_by_role("link", name="Retour à la liste des comptes").click()
    page.get_by_label("Rechercher un compte").fill("lucie")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("row", name=re.compile("lucie.bernard"))).to_contain_text("désactivé")

    # The disabled account cannot log in.
    stranger = chromium.new_context()
    attempt = stranger.new_page()
    attempt.goto(platform.portal.url + "/")
    attempt.get_by_label("Identifiant").fill("lucie.bernard")
    attempt.get_by_label("Mot de passe").fill("Un autre mot de passe assez long 7")
    attempt.get_by_label(re.compile("^Code")).fill(pyotp.parse_uri(uri).now())
    attempt.get_by_role("button", name="Se connecter").click()
    expect(attempt.get_by_role("alert")).to_be_visible()
    expect(attempt).to_have_url(re.compile("^" + re.escape(platform.identity.url)))
    stranger.close()


def test_ending_the_current_session_from_the_profile_logs_the_browser_out(
    platform, neurologist, context
):
    page = context.new_page()
    log_in(page, platform, neurologist)
    page.get_by_role("link", name="Mon profil").click()
    current = page.get_by_role("row").filter(has_text="Session actuelle")
    current.get_by_role("button", name="Fermer cette session").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    expect(page).to_have_url(re.compile("^" + re.escape(platform.identity.url)))


def test_a_professional_adds_a_second_authenticator_from_the_profile(platform, context):
    oncologist = platform.add_persona("sophie.roux", "Sophie", "Roux", "clinician", "rcp-member")
    page = context.new_page()
    log_in(page, platform, oncologist)
    page.get_by_role("link", name="Mon profil").click()
    page.get_by_label("Nom du nouvel appareil").fill("Tablette")
    page.get_by_role("button", name="Ajouter un appareil").click()

    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = page.locator("code").inner_text()
    page.get_by_label("Code à 6 chiffres").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_text("L’appareil est confirmé.")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Tablette")).to_contain_text("confirmé")
