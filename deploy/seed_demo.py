"""Demo data for `make run`: the portal's OIDC client and one account per persona.

    python deploy/seed_demo.py seed            create what is missing (safe to run again)
    python deploy/seed_demo.py banner          print the portal URL and the demo accounts
    python deploy/seed_demo.py totp PERSONA    print a demo account's current TOTP code

Everything goes through identity's own command line (`flask --app identity user create`,
`client create`), invoked in this process, in the environment deploy/run.sh prepares.
The passwords and TOTP secrets below are public on purpose: they exist only in development
databases.
"""

import os
import sys
from dataclasses import dataclass

import pyotp

DEMO_PASSWORD = "ENRS-demo-2026!"  # noqa: S105 (public on purpose: development only)
PORTAL_CLIENT_SCOPES = "openid profile email offline_access roles"


@dataclass(frozen=True)
class Persona:
    key: str
    what: str
    username: str
    given_name: str
    family_name: str
    roles: tuple
    totp_secret: str
    rpps: str | None = None

    @property
    def email(self):
        return f"{self.username}@demo.enrs.invalid"


# RPPS numbers: fictitious, in the 997… range of the national test cards, with a valid Luhn key.
PERSONAS = (
    Persona(
        "gcs_admin",
        "GCS e-santé administrator",
        "claire.morel",
        "Claire",
        "Morel",
        ("platform-admin",),
        "YI7TOPS2OMUQ5M5THIZWEI7I4EWO423D",
    ),
    Persona(
        "emergency_physician",
        "emergency physician, spoke hospital",
        "julien.lefebvre",
        "Julien",
        "Lefebvre",
        ("clinician", "stroke-requester"),
        "4QF3UU2RC5MANTZ2FQBJDNIHTAXHUFQB",
        "99700101019",
    ),
    Persona(
        "neurologist",
        "neurologist on the stroke rota",
        "sophie.garnier",
        "Sophie",
        "Garnier",
        ("clinician", "stroke-neurologist"),
        "RFCMH2TFR23VLHJAE56AWBPA4GEBOD4B",
        "99700102025",
    ),
    Persona(
        "oncologist",
        "oncologist, RCP member",
        "antoine.rousseau",
        "Antoine",
        "Rousseau",
        ("clinician", "rcp-member"),
        "ZETQKUCKJH4GFTONHMLEBTHLOZC7E245",
        "99700103031",
    ),
    Persona(
        "rcp_coordinator",
        "RCP coordinator",
        "nathalie.blanc",
        "Nathalie",
        "Blanc",
        ("rcp-coordinator", "rcp-member"),
        "WPPYZH732IJL6SFKRDH3IU4RY6GHAOMF",
    ),
    Persona(
        "gp",
        "general practitioner",
        "marc.dubois",
        "Marc",
        "Dubois",
        ("clinician",),
        "G455PATMYVFVJI3CLT4KZ4OILBTFHAWH",
        "99700104047",
    ),
)


class Identity:
    """identity's own command line, run in this process (one start-up for the whole seed)."""

    def __init__(self):
        from identity import create_app

        self.runner = create_app().test_cli_runner()

    def run(self, *args, input=None):
        """`flask --app identity ARGS`; the click Result (exit_code, output)."""
        return self.runner.invoke(args=list(args), input=input)


def portal_client_args():
    portal = os.environ.get("PORTAL_PUBLIC_URL", "http://localhost:8000").rstrip("/")
    return [
        "client",
        "create",
        os.environ.get("PORTAL_OIDC_CLIENT_ID", "portal"),
        "--secret-stdin",
        "--redirect-uri",
        f"{portal}/auth/callback",
        "--post-logout-redirect-uri",
        f"{portal}/",
        "--backchannel-logout-uri",
        f"{portal}/auth/backchannel-logout",
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
        "--scope",
        PORTAL_CLIENT_SCOPES,
    ]


def user_args(persona):
    args = ["user", "create", persona.username]
    for role in persona.roles:
        args += ["--role", role]
    args += ["--given-name", persona.given_name, "--family-name", persona.family_name]
    args += ["--email", persona.email, "--totp-secret", persona.totp_secret, "--password-stdin"]
    if persona.rpps:
        args += ["--rpps", persona.rpps]
    return args


def already_exists(result):
    """identity refuses a second account with the same username; that is what we want here."""
    return result.exit_code != 0 and "already exists" in result.output


def seed_client(identity):
    # `client create` is idempotent: it updates an existing client.
    secret = os.environ["PORTAL_OIDC_CLIENT_SECRET"]
    result = identity.run(*portal_client_args(), input=secret + "\n")
    if result.exit_code != 0:
        fail("the portal's OIDC client", result)
    print("demo: OIDC client 'portal' is registered")


def seed_users(identity):
    created = 0
    for persona in PERSONAS:
        result = identity.run(*user_args(persona), input=DEMO_PASSWORD + "\n")
        if result.exit_code == 0:
            created += 1
        elif not already_exists(result):
            fail(f"the account {persona.username}", result)
    print(f"demo: {created} account(s) created, {len(PERSONAS) - created} already there")


def fail(what, result):
    detail = result.output.strip() or repr(result.exception)
    sys.exit(f"demo seed: could not create {what}:\n{detail}")


def find(name):
    """A persona by key (gp) or username (marc.dubois)."""
    for persona in PERSONAS:
        if name in (persona.key, persona.username):
            return persona
    keys = ", ".join(persona.key for persona in PERSONAS)
    sys.exit(f"unknown persona {name!r}; choose one of: {keys}")


def banner():
    portal = os.environ.get("PORTAL_PUBLIC_URL", "http://localhost:8000")
    print(f"\nENRS is starting: open {portal}  (identity: {os.environ.get('OIDC_ISSUER')})")
    print(f"Demo accounts, all with the password {DEMO_PASSWORD!r}:")
    print(f"  {'persona':<20} {'username':<18} {'roles':<36} TOTP secret")
    for persona in PERSONAS:
        roles = ",".join(persona.roles)
        print(f"  {persona.key:<20} {persona.username:<18} {roles:<36} {persona.totp_secret}")
    print("Current TOTP code of an account: make totp USER=gp   (Ctrl-C stops everything)\n")


def totp(name):
    print(pyotp.TOTP(find(name).totp_secret).now())


def main(argv):
    command = argv[1] if len(argv) > 1 else "seed"
    if command == "seed":
        identity = Identity()
        seed_client(identity)
        seed_users(identity)
    elif command == "banner":
        banner()
    elif command == "totp" and len(argv) == 3:
        totp(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
