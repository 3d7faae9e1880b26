"""The verified-claims cache: a token seen again skips the signature, never the time checks."""

import base64
import json
import time

import pytest
from servicekit import auth
from servicekit.testing import TEST_AUDIENCE, TEST_ISSUER, SigningKey, TokenFactory


class Keys:
    """A key set whose keys can be withdrawn or replaced, as a JWKS refresh would."""

    def __init__(self, *signing_keys):
        self.keys = {key.kid: key.private_key.public_key() for key in signing_keys}

    def key(self, kid):
        try:
            return self.keys[kid]
        except KeyError:
            raise auth.InvalidToken("the token is signed with an unknown key") from None


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def key():
    return SigningKey()


@pytest.fixture
def factory(key):
    return TokenFactory(key)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def keys(key):
    return Keys(key)


@pytest.fixture
def verifier(keys, clock):
    cache = auth.VerifiedClaims(size=4, seconds=3600, clock=clock)
    return auth.TokenVerifier(TEST_ISSUER, TEST_AUDIENCE, keys, cache=cache)


def test_a_token_seen_again_is_answered_from_the_cache(verifier, factory, monkeypatch):
    token = factory.make_token(sub="gp-1")
    first = verifier.verify(token)
    monkeypatch.setattr(
        auth.JWT_DECODER, "decode", lambda *a, **k: pytest.fail("verified in full again")
    )
    assert verifier.verify(token) == first


def test_an_expired_token_in_the_cache_is_refused(verifier, factory, clock):
    token = factory.make_token(lifetime=120)
    claims = verifier.verify(token)
    # A full verification (on the real clock) would accept it: only the cache can refuse it.
    clock.now = claims["exp"] + auth.LEEWAY
    with pytest.raises(auth.InvalidToken, match="expired"):
        verifier.verify(token)
    assert len(verifier.cache) == 0


def test_a_token_not_yet_valid_by_the_cache_clock_is_refused(verifier, factory, clock):
    token = factory.make_token(nbf=int(time.time()))
    verifier.verify(token)
    clock.now -= auth.LEEWAY + 60
    with pytest.raises(auth.InvalidToken):
        verifier.verify(token)


def test_a_refused_token_is_never_remembered(verifier, factory, key):
    for token in (
        factory.make_token(aud="another-audience"),
        factory.make_token(lifetime=-3600),
        key.sign(factory.claims(), headers={"typ": "JWT"}),
    ):
        with pytest.raises(auth.InvalidToken):
            verifier.verify(token)
    assert len(verifier.cache) == 0


def test_a_tampered_copy_of_a_remembered_token_is_refused(verifier, factory):
    token = factory.make_token(roles=["clinician"])
    verifier.verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["platform-admin"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(auth.InvalidToken):
        verifier.verify(f"{header}.{forged_payload}.{signature}")


def test_a_token_whose_key_is_withdrawn_is_refused_though_remembered(verifier, factory, keys):
    token = factory.make_token()
    verifier.verify(token)
    keys.keys.clear()
    with pytest.raises(auth.InvalidToken, match="unknown key"):
        verifier.verify(token)


def test_a_token_whose_key_was_replaced_is_verified_in_full_again(verifier, factory, keys, key):
    token = factory.make_token()
    verifier.verify(token)
    keys.keys[key.kid] = SigningKey().private_key.public_key()  # same kid, another key
    with pytest.raises(auth.InvalidToken):
        verifier.verify(token)


def test_an_access_token_remembered_is_not_taken_for_another_type(verifier, factory):
    token = factory.make_token()
    verifier.verify(token)
    with pytest.raises(auth.InvalidToken):
        verifier.verify(token, expected_type="jwt")


def test_entries_are_verified_in_full_again_after_the_cache_time(
    verifier, factory, clock, monkeypatch
):
    token = factory.make_token()
    verifier.verify(token)
    calls = []
    decode = auth.JWT_DECODER.decode
    monkeypatch.setattr(
        auth.JWT_DECODER, "decode", lambda *a, **k: calls.append(1) or decode(*a, **k)
    )
    clock.now += verifier.cache.seconds
    verifier.verify(token)
    assert calls == [1]


def test_the_cache_keeps_only_the_most_recently_used_tokens(verifier, factory):
    tokens = [factory.make_token(sub=f"user-{index}") for index in range(6)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier.cache) == verifier.cache.size == 4


def test_claims_changed_by_a_caller_do_not_change_the_remembered_ones(verifier, factory):
    token = factory.make_token(sub="gp-1")
    verifier.verify(token)["sub"] = "someone-else"
    assert verifier.verify(token)["sub"] == "gp-1"


def test_a_value_that_is_not_a_string_is_refused(verifier):
    with pytest.raises(auth.InvalidToken):
        verifier.verify(None)
