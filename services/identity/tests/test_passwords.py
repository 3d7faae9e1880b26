"""Passwords: Argon2id with OWASP parameters, rehashed on sign-in when the parameters change."""

import argon2
import pytest
import sqlalchemy as sa
from identity import passwords
from identity.models import User


def test_it_hashes_with_argon2id_and_owasp_parameters():
    hashed = passwords.hash_password("a long enough password")
    assert hashed.startswith("$argon2id$")
    parameters = argon2.extract_parameters(hashed)
    assert parameters.memory_cost >= 19 * 1024 and parameters.time_cost >= 2
    assert passwords.verify_password(hashed, "a long enough password")
    assert not passwords.verify_password(hashed, "a long enough passworD")


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
