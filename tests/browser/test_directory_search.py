"""In a real browser: a professional searches the regional directory as they type.

The directory runs for real (gunicorn, its own database) with a generated extract imported by
its CLI; the portal is restarted with the directory's address, as an operator deploying it would.
"""

import re
import secrets

import pytest
from playwright.sync_api import expect
from servicekit.testing import ServiceProcess, database_url, drop_postgres_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS = 120
FAMILY_COLUMN = "Nom d'exercice"


@pytest.fixture(scope="module")
def directory(platform, tmp_path_factory):
    """The directory trusting identity's tokens, filled from a generated national extract."""
    tmp = tmp_path_factory.mktemp("directory")
    service = ServiceProcess("directory", env={}, log_path=tmp / "directory.log")
    service.env.update(
        DATABASE_URL=database_url(tmp, "directory"),
        SECRET_KEY=secrets.token_hex(32),
        OIDC_ISSUER=platform.identity.url,
        ENRS_PUBLIC_URL=service.url,
        IMPORT_DIR=str(tmp / "imports"),
        LOG_LEVEL="WARNING",
    )
    extract = tmp / "PS_LibreAcces_Personne_activite.txt"
    service.flask("generate-extract", "--rows", str(ROWS), "--seed", "7", "--out", str(extract))
    service.flask("migrate")
    service.flask("import", str(extract))
    try:
        with service:
            _redeploy_portal_with(platform.portal, service.url)
            service.extract = extract
            yield service
    finally:
        if service.env["DATABASE_URL"].startswith("postgresql"):
            drop_postgres_database(service.env["DATABASE_URL"])


def _redeploy_portal_with(portal, directory_url):
    portal.stop()
    portal.env["DIRECTORY_URL"] = directory_url
    portal.start()


def activities(extract):
    """The extract's activity lines as {column name: value}."""
    lines = extract.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("|")
    return [dict(zip(header, line.split("|"), strict=False)) for line in lines[1:]]


def a_specialist(extract):
    """An activity with a speciality the search form offers (SM…), a name and a postcode."""
    return next(
        row
        for row in activities(extract)
        if row["Code savoir-faire"].startswith("SM")
        and row[FAMILY_COLUMN]
        and row["Code postal (coord. structure)"]
    )


def family_names(extract):
    """The family names of the extract's professionals, as written in the file."""
    lines = extract.read_text(encoding="utf-8").splitlines()
    column = lines[0].split("|").index(FAMILY_COLUMN)
    return sorted({line.split("|")[column] for line in lines[1:] if line.split("|")[column]})


@pytest.fixture(scope="module")
def gp(platform):
    """A community doctor looking for a colleague."""
    return platform.add_persona("claire.martin", "Claire", "Martin", "clinician")


def log_in(page, platform, persona):
    page.goto(platform.portal.url + "/")
    page.get_by_label("Identifiant").fill(persona.username)
    page.get_by_label("Mot de passe").fill(persona.password)
    page.get_by_label(re.compile("^Code")).fill(persona.code())
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(platform.portal.url + "/")


def test_a_gp_finds_a_colleague_as_they_type_and_opens_their_page(platform, directory, gp, context):
    family = family_names(directory.extract)[0]
    page = context.new_page()
    log_in(page, platform, gp)
    page.goto(platform.portal.url + "/annuaire")
    expect(page.get_by_role("heading", name="Annuaire santé")).to_be_visible()

    # Typed, never submitted: the static script replaces the list of results.
    page.get_by_label("Nom du professionnel").press_sequentially(family[:4].lower(), delay=50)
    results = page.locator(".directory-results")
    expect(results.get_by_role("link").first).to_be_visible()
    expect(results).to_contain_text(family)
    expect(page).to_have_url(re.compile(r"/annuaire\?nom="))

    results.get_by_role("link", name=re.compile(family)).first.click()
    expect(page.get_by_role("heading", name="Identifiants")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(family)
    expect(page.get_by_text("RPPS", exact=True)).to_be_visible()


@pytest.fixture(scope="module")
def neurologist(platform):
    """A neurologist on the stroke rota (a code of their own: a TOTP code is accepted once)."""
    return platform.add_persona("marc.petit", "Marc", "Petit", "stroke-neurologist")


def test_the_search_works_with_javascript_off(platform, directory, neurologist, chromium):
    family = family_names(directory.extract)[-1]
    context = chromium.new_context(locale="fr-FR", java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, platform, neurologist)
    page.goto(platform.portal.url + "/annuaire")
    page.get_by_label("Nom du professionnel").fill(family)
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator(".directory-results")).to_contain_text(family)
    context.close()


@pytest.fixture(scope="module")
def oncologist(platform):
    """An oncologist looking for a surgeon to invite to a multidisciplinary meeting."""
    return platform.add_persona("lea.bernard", "Léa", "Bernard", "clinician", "rcp-member")


def test_a_speciality_a_name_and_a_postcode_narrow_the_search_together(
    platform, directory, oncologist, context
):
    specialist = a_specialist(directory.extract)
    family, postcode = specialist[FAMILY_COLUMN], specialist["Code postal (coord. structure)"]
    page = context.new_page()
    log_in(page, platform, oncologist)
    page.goto(platform.portal.url + "/annuaire")
    page.get_by_label("Profession ou spécialité").select_option(
        "s-" + specialist["Code savoir-faire"]
    )
    page.get_by_label("Ville ou code postal").fill(postcode)
    page.get_by_label("Nom du professionnel").fill(family)
    page.get_by_role("button", name="Rechercher").click()

    results = page.locator(".directory-results li")
    expect(results.first).to_be_visible()
    expect(page.locator(".directory-results")).to_contain_text(family)
    for row in results.all():  # every activity listed meets the three criteria
        expect(row).to_contain_text(specialist["Libellé savoir-faire"])
        expect(row).to_contain_text(postcode)
