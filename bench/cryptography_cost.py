"""CPU milliseconds this core takes for the cryptography identity's requests cannot do without.

    python -P bench/cryptography_cost.py       (prints JSON; bench/identity.py runs it)

One Argon2id verification with identity's parameters (a password login) and one RS256
signature of an access token with identity's key size (every token grant), one at a time.
Both are the same C code whatever identity's own code does, so they tell how fast the core is:
identity's targets are per core, and the same code's figures vary twofold between the machines
it has run on. (-P: run from bench/, this folder's identity.py would shadow the identity package.)
"""

import json
import secrets
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from identity import passwords
from identity.oauth.keys import KEY_SIZE


def per_call_ms(call, seconds):
    # The process's CPU time: identity verifies passwords on a thread of its own.
    done, cpu_before, deadline = 0, time.process_time(), time.monotonic() + seconds
    while done < 5 or time.monotonic() < deadline:
        call()
        done += 1
    return (time.process_time() - cpu_before) * 1000 / done


def main(seconds=1.0):
    password = "banc-d-essai-" + secrets.token_hex(8)
    stored = passwords.hash_password(password)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    claims = {"iss": "https://identity.example", "sub": secrets.token_hex(16), "scope": "openid"}
    figures = {
        "argon2id_ms": per_call_ms(lambda: passwords.verify_password(stored, password), seconds),
        "rs256_ms": per_call_ms(lambda: jwt.encode(claims, key, algorithm="RS256"), seconds),
        "argon2id_parameters": f"m={passwords.MEMORY_COST // 1024} MiB, t={passwords.TIME_COST}",
        "rsa_bits": KEY_SIZE,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
