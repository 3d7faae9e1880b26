"""Password hashing with Argon2id (OWASP parameters), rehashing when the parameters change."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import argon2
import nacl.exceptions
import nacl.pwhash

MIN_LENGTH = 12
MAX_LENGTH = 1024

# OWASP Password Storage Cheat Sheet: Argon2id with one of five configurations it lists as
# equally strong (46 MiB x 1 iteration, 19 x 2, 12 x 3, 9 x 4, 7 x 5; one lane). The last costs
# the least CPU here, and a login's CPU is mostly this verification. A hash made with other
# parameters (19 MiB x 2 before) still verifies, its parameters being in the hash, and is
# replaced at its next sign-in.
MEMORY_COST, TIME_COST = 7 * 1024, 5


class Argon2id:
    """Argon2id hashes in the standard encoded form ($argon2id$v=19$m=...,t=...,p=...$salt$hash).

    libsodium (PyNaCl) computes them: it picks its AVX-512, AVX2 or SSSE3 code at run time and
    verifies in 6.8 ms what argon2-cffi's portable SSE2 build does in 15 ms, with the same
    parameters, so an attacker's cost is unchanged. libsodium knows one lane only; a hash with
    several lanes (none made here) is verified by argon2-cffi, which also reads the parameters.
    """

    def __init__(self, memory_cost, time_cost):
        self.memory_limit = memory_cost * 1024
        self.time_cost = time_cost
        self.parameters = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=1, type=argon2.Type.ID
        )

    def hash(self, password):
        secret = password.encode()
        encoded = nacl.pwhash.argon2id.str(
            secret, opslimit=self.time_cost, memlimit=self.memory_limit
        )
        return encoded.decode("ascii")

    def verify(self, password_hash, password):
        """True, or raise argon2's VerificationError / InvalidHashError."""
        if not _one_lane_argon2id(password_hash):
            return self.parameters.verify(password_hash, password)
        try:
            return nacl.pwhash.argon2id.verify(password_hash.encode(), password.encode())
        except nacl.exceptions.CryptoError as error:
            raise argon2.exceptions.VerificationError(str(error)) from None

    def check_needs_rehash(self, password_hash):
        return self.parameters.check_needs_rehash(password_hash)


def _one_lane_argon2id(password_hash):
    try:
        parameters = argon2.extract_parameters(password_hash)
    except argon2.exceptions.InvalidHashError:
        return False
    return parameters.type is argon2.Type.ID and parameters.parallelism == 1


_hasher = Argon2id(MEMORY_COST, TIME_COST)
# Checked when the username is unknown, so that such attempts take as long as real ones.
_DUMMY_HASH = _hasher.hash("a password nobody has, only here to spend the same time")


class WeakPassword(ValueError):
    """The password does not meet the policy for new passwords."""


def check_policy(password):
    """Raise WeakPassword if password cannot be set as a new password."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")


class _HashingThread:
    """One thread per process that computes every Argon2 hash and verification.

    Argon2's working memory (7 MiB) is allocated by the thread that hashes, and the C allocator
    keeps a freed block in that thread's own arena: in a threaded web worker each request thread
    would keep its own 7 MiB (measured: 4 threads hashing held 22 MB more than one). Hashing on
    one thread keeps one block per process, as a single-threaded worker did. A process hashes one
    password at a time, as a sync worker did; the thread is made again in a forked child.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._executor = None
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._lock = threading.Lock()
        self._executor = None

    def run(self, function, *args):
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="argon2")
            executor = self._executor
        return executor.submit(function, *args).result()


_hashing = _HashingThread()


def hash_password(password):
    """The Argon2id hash of a new password that meets the policy."""
    check_policy(password)
    return _hashing.run(_hasher.hash, password)


def verify_password(password_hash, password):
    """True when password matches password_hash."""
    try:
        return _hashing.run(_hasher.verify, password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def verify_nothing(password):
    """Spend the time of a real verification, for a username that does not exist."""
    verify_password(_DUMMY_HASH, password)
    return False


def needs_rehash(password_hash):
    """True when password_hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def rehash(password):
    """A hash with today's parameters of a password that was just verified (no policy check)."""
    return _hashing.run(_hasher.hash, password)
