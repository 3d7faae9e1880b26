"""Passwords: Argon2id with OWASP parameters, rehashed on sign-in when the parameters change."""

import threading

import argon2
import pytest
import sqlalchemy as sa
from identity import passwords
from identity.models import User

# OWASP Password Storage Cheat Sheet, Argon2id: (memory in KiB, iterations), one lane each.
OWASP_MINIMUMS = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))


def test_it_hashes_with_argon2id_and_owasp_parameters():
    hashed = passwords.hash_password("a long enough password")
    assert hashed.startswith("$argon2id$")
    parameters = argon2.extract_parameters(hashed)
    assert parameters.parallelism == 1
    assert any(
        parameters.memory_cost >= memory and parameters.time_cost >= iterations
        for memory, iterations in OWASP_MINIMUMS
    )
    assert passwords.verify_password(hashed, "a long enough password")
    assert not passwords.verify_password(hashed, "a long enough passworD")


def test_it_uses_owasps_7_mib_5_iterations_configuration():
    parameters = argon2.extract_parameters(passwords.hash_password("a long enough password"))
    assert (parameters.memory_cost, parameters.time_cost) == (7 * 1024, 5)


def test_an_unknown_username_costs_a_verification_with_todays_parameters():
    assert not passwords.needs_rehash(passwords._DUMMY_HASH)


def test_a_hash_made_with_the_former_19_mib_parameters_verifies_and_is_upgraded(
    browser, db_session, gp
):
    former = argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
    old_hash = former.hash(gp.password)
    assert passwords.verify_password(old_hash, gp.password)
    assert passwords.needs_rehash(old_hash)
    db_session.execute(sa.update(User).values(password_hash=old_hash))
    db_session.commit()
    assert browser.sign_in(gp).status_code == 302
    db_session.expire_all()
    parameters = argon2.extract_parameters(db_session.scalar(sa.select(User.password_hash)))
    assert (parameters.memory_cost, parameters.time_cost) == (7 * 1024, 5)


def test_its_hashes_are_standard_argon2id_strings_that_argon2_cffi_verifies():
    hashed = passwords.hash_password("a long enough password")
    reference = argon2.PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1)
    assert reference.verify(hashed, "a long enough password")
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        reference.verify(hashed, "another long password")


def test_a_hash_with_several_lanes_verifies_and_is_upgraded():
    several_lanes = argon2.PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=4)
    old_hash = several_lanes.hash("a long enough password")
    assert passwords.verify_password(old_hash, "a long enough password")
    assert not passwords.verify_password(old_hash, "a long enough passworD")
    assert passwords.needs_rehash(old_hash)


@pytest.mark.parametrize(
    "stored", ["", "not a hash", "$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$", "$2b$12$bcrypt"]
)
def test_a_malformed_stored_hash_verifies_nothing(stored):
    assert not passwords.verify_password(stored, "a long enough password")


def test_it_refuses_a_new_password_shorter_than_twelve_characters():
    with pytest.raises(passwords.WeakPassword):
        passwords.hash_password("elevenchars")


def test_it_rehashes_an_old_hash_when_the_gp_signs_in(browser, db_session, gp):
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    db_session.execute(sa.update(User).values(password_hash=weak.hash(gp.password)))
    db_session.commit()
    assert browser.sign_in(gp).status_code == 302
    db_session.expire_all()
    rehashed = db_session.scalar(sa.select(User.password_hash))
    assert not passwords.needs_rehash(rehashed)
    assert passwords.verify_password(rehashed, gp.password)


class RecordingHasher:
    """The hasher, noting which thread each hash or verification ran on."""

    def __init__(self, hasher):
        self.hasher = hasher
        self.threads = set()

    def hash(self, password):
        self.threads.add(threading.get_ident())
        return self.hasher.hash(password)

    def verify(self, password_hash, password):
        self.threads.add(threading.get_ident())
        return self.hasher.verify(password_hash, password)


def test_every_hash_and_verification_of_a_process_runs_on_one_thread(monkeypatch):
    recording = RecordingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", recording)
    hashed = passwords.hash_password("a long enough password")
    callers = set()

    def sign_in():
        callers.add(threading.get_ident())
        assert passwords.verify_password(hashed, "a long enough password")
        assert not passwords.verify_password(hashed, "not the password at all")

    threads = [threading.Thread(target=sign_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(callers) == 4
    assert len(recording.threads) == 1
    assert not recording.threads & callers
