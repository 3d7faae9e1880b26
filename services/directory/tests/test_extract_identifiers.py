"""Identifier checks: valid, wrong key (warning), malformed (rejection), Corsica."""

import pytest
from directory.extract import identifiers as ids
from stdnum import luhn

# Real identifiers of the national directory's open data.
GUIGNARD_RPPS = "10001045367"
GUIGNARD_SITE_SIRET = "85131528300016"
APHP_FINESS = "750712184"


def corsican_finess(body: str) -> str:
    """A Haute-Corse FINESS whose key is computed the way check_finess reads it."""
    return "2B" + body + luhn.calc_check_digit("20" + body)


def test_it_accepts_a_valid_rpps():
    assert ids.check_rpps(GUIGNARD_RPPS) is None


def test_it_only_warns_on_a_wrong_rpps_key():
    finding = ids.check_rpps(GUIGNARD_RPPS[:-1] + "8")
    assert finding == ids.warn("clé de contrôle RPPS incorrecte")


@pytest.mark.parametrize("rpps", ["1000104536", "100010453671", "1000104536A", "1000 104536"])
def test_it_rejects_a_malformed_rpps(rpps):
    assert ids.check_rpps(rpps) == ids.reject("RPPS mal formé : 11 chiffres attendus")


def test_it_accepts_nine_character_adeli_numbers_and_rejects_others():
    assert ids.check_adeli("356012345") is None
    assert ids.check_adeli("2A6012345") is None
    assert ids.check_adeli("35601234").blocking


def test_it_accepts_a_valid_finess_and_warns_on_a_wrong_key():
    assert ids.check_finess(APHP_FINESS) is None
    assert ids.check_finess("750712185") == ids.warn("clé de contrôle FINESS incorrecte")


def test_it_accepts_corsican_finess_numbers():
    valid = corsican_finess("000007")
    wrong_key = valid[:-1] + str((int(valid[-1]) + 1) % 10)

    assert ids.check_finess(valid) is None
    assert ids.check_finess("2A" + valid[2:]) is None
    assert ids.check_finess(wrong_key) == ids.warn("clé de contrôle FINESS incorrecte")


@pytest.mark.parametrize("finess", ["2C0000070", "75071218", "7507121840", "75O712184"])
def test_it_rejects_a_malformed_finess(finess):
    assert ids.check_finess(finess) == ids.reject("FINESS mal formé : 9 caractères attendus")


def test_it_checks_siret_length_and_only_warns_on_its_key():
    assert ids.check_siret(GUIGNARD_SITE_SIRET) is None
    assert ids.check_siret("85131528300017") == ids.warn("clé de contrôle SIRET incorrecte")
    assert ids.check_siret("8513152830001") == ids.reject("SIRET mal formé : 14 chiffres attendus")


def test_it_checks_siren_like_siret():
    assert ids.check_siren(GUIGNARD_SITE_SIRET[:9]) is None
    assert ids.check_siren("851315284") == ids.warn("clé de contrôle SIREN incorrecte")
    assert ids.check_siren("85131528").blocking


def test_it_warns_on_a_bad_postcode_commune_code_or_email():
    assert ids.check_postcode("35000") is None
    assert ids.check_postcode("3500") == ids.warn("code postal mal formé : 5 chiffres attendus")
    assert ids.check_commune("2A004") is None
    assert not ids.check_commune("3523").blocking
    assert ids.check_email("secretariat.neurologie@chu-rennes.mssante.fr") is None
    assert ids.check_email("secretariat.chu-rennes.fr") == ids.warn("adresse e-mail mal formée")


def test_it_computes_luhn_keys_exactly_like_stdnum():
    numbers = [str(n) for n in range(0, 100_000, 7)] + [GUIGNARD_RPPS, GUIGNARD_SITE_SIRET]

    assert [ids.luhn_valid(n) for n in numbers] == [luhn.is_valid(n) for n in numbers]


def test_it_computes_luhn_check_digits_exactly_like_stdnum():
    bodies = [str(n) for n in range(0, 100_000, 7)] + [GUIGNARD_RPPS[:-1], "2000000"]

    assert [ids.luhn_key(b) for b in bodies] == [luhn.calc_check_digit(b) for b in bodies]


def test_it_accepts_la_poste_establishments_whose_siret_follows_its_own_rule():
    la_poste_siret = "35600000010000"

    assert not luhn.is_valid(la_poste_siret)
    assert ids.check_siret(la_poste_siret) is None
