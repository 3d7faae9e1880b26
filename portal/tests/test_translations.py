"""French is the source language; the English catalogue is complete and its .mo is up to date.

After changing a user-facing text, from portal/:
    pybabel extract -F babel.cfg -k _l -o messages.pot . && \
    pybabel update -i messages.pot -d portal/translations && \
    pybabel compile -d portal/translations && rm messages.pot
"""

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

PORTAL = Path(__file__).resolve().parent.parent
CATALOGUE = PORTAL / "portal" / "translations" / "en" / "LC_MESSAGES"


def _source_messages():
    method_map, options_map = parse_mapping_cfg(io.StringIO((PORTAL / "babel.cfg").read_text()))
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
    found = extract_from_dir(
        PORTAL, method_map, options_map, keywords=keywords, comment_tags=(), strip_comment_tags=True
    )
    return {message for _file, _line, message, _comments, _context in found}


def _po():
    with open(CATALOGUE / "messages.po", "rb") as po_file:
        return read_po(po_file)


def test_it_has_an_english_translation_for_every_text_of_the_portal():
    catalogue = _po()
    untranslated = [
        message for message in _source_messages() if not (catalogue.get(message) or None)
    ]
    assert untranslated == []
    assert all(entry.string for entry in catalogue if entry.id)


def test_it_ships_a_compiled_catalogue_matching_its_source():
    with open(CATALOGUE / "messages.mo", "rb") as mo_file:
        compiled = {entry.id: entry.string for entry in read_mo(mo_file) if entry.id}
    source = {entry.id: entry.string for entry in _po() if entry.id and not entry.fuzzy}
    assert compiled == source


def test_it_answers_in_french_by_default_and_in_english_when_asked(gp, csrf_token):
    page = gp.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "Vos services" in page or "Aucun service" in page
    gp.post("/langue", data={"lang": "en", "next": "/", "csrf_token": csrf_token(gp)})
    page = gp.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Skip to content" in page
