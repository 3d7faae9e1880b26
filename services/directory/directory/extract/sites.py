"""Synthetic organisations (hospitals, clinics, practices, pharmacies) and their mailboxes."""

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from directory.extract import samples
from directory.extract.formats import MSSANTE_COLUMNS, PERSONNE_ACTIVITE_COLUMNS
from directory.extract.identifiers import luhn_key

KINDS = ("hospital", "clinic", "cabinet", "pharmacy")
# Mix of the pool: practices and pharmacies outnumber hospitals, as in any region.
_POOL_MIX = ("hospital", "clinic", "cabinet", "cabinet", "cabinet", "pharmacy", "pharmacy")
_SECTORS = {
    "hospital": ("SA01", "Etablissement public de santé"),
    "clinic": ("SA02", "Etablissement privé de santé"),
    "pharmacy": ("SA33", "Pharmacie d'officine"),
    "cabinet": ("SA07", "Cabinet individuel"),
}
_SERVICES = {
    "hospital": ("neurologie", "oncologie", "urgences"),
    "clinic": ("secretariat",),
}
# Columns of an activity line that describe the site, and those of an MSSanté line.
SITE_COLUMNS = PERSONNE_ACTIVITE_COLUMNS[19:47]
MAILBOX_SITE_COLUMNS = MSSANTE_COLUMNS[18:]


@dataclass(frozen=True)
class Site:
    """An organisation of the pool, with its extract columns already joined."""

    kind: str
    name: str
    finess: str
    slug: str
    columns: str
    sector: str
    mailbox_columns: str


def join_columns(columns: tuple[str, ...], values: dict[str, str]) -> str:
    """The values of the given columns, `|`-joined, blank where none is given."""
    return "|".join(values.get(column, "") for column in columns)


@lru_cache(maxsize=4096)
def slug(text: str) -> str:
    """ASCII, lower-case, dashes: how a name appears in an e-mail address."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def with_key(body: str) -> str:
    """The number followed by its Luhn check digit."""
    return body + luhn_key(body)


def pick(rng: random.Random, items):
    """rng.choice for the hot path: one float draw instead of rejection sampling on bits."""
    return items[int(rng.random() * len(items))]


class UniqueNames:
    """Hands out a name once; later requests for it get a number appended."""

    def __init__(self):
        self.counts: Counter = Counter()

    def __call__(self, name: str) -> str:
        """The name itself the first time, then name2, name3..."""
        self.counts[name] += 1
        count = self.counts[name]
        return name if count == 1 else f"{name}{count}"


class SitePool:
    """A fixed pool of sites drawn once; professionals pick their workplaces from it."""

    def __init__(self, rng: random.Random, size: int):
        self.rng = rng
        self.unique = UniqueNames()
        self.sites = [self._site(i, _POOL_MIX[i % len(_POOL_MIX)]) for i in range(size)]
        self.by_kind = {kind: [s for s in self.sites if s.kind == kind] for kind in KINDS}

    def pick(self, kind: str) -> Site:
        """A site of that kind (any site if the pool has none of it)."""
        return pick(self.rng, self.by_kind[kind] or self.sites)

    def _site(self, index: int, kind: str) -> Site:
        rng = self.rng
        insee, postcode, commune = rng.choice(samples.COMMUNES)
        dept = insee[:2]
        siren = with_key(f"{2 + index % 7}{index:07d}"[-8:])
        siret = with_key(siren + "0001")
        finess = with_key(f"{dept}0{index:05d}") if kind != "cabinet" else ""
        name = self._name(kind, commune)
        site_slug = self.unique(slug(name))
        street_code, street_type, street = rng.choice(samples.STREETS)
        number = str(rng.randint(1, 120))
        address = {
            "Numéro Voie (coord. structure)": number,
            "Code type de voie (coord. structure)": street_code,
            "Libellé type de voie (coord. structure)": street_type,
            "Libellé Voie (coord. structure)": street,
            "Code postal (coord. structure)": postcode,
            "Code commune (coord. structure)": insee,
            "Libellé commune (coord. structure)": commune,
            "Code pays (coord. structure)": "99100",
            "Libellé pays (coord. structure)": "France",
            "Code Département (structure)": dept,
            "Libellé Département (structure)": samples.DEPARTMENTS[dept],
        }
        columns = join_columns(
            SITE_COLUMNS,
            {
                "Numéro SIRET site": siret,
                "Numéro SIREN site": siren,
                "Numéro FINESS site": finess,
                "Numéro FINESS établissement juridique": (
                    with_key(f"{dept}1{index:05d}") if kind in ("hospital", "clinic") else ""
                ),
                "Identifiant technique de la structure": ("F" + finess) if finess else "S" + siret,
                "Raison sociale site": name,
                "Téléphone (coord. structure)": f"02{rng.randrange(10**8):08d}",
                "Adresse e-mail (coord. structure)": (
                    f"contact@{site_slug}.fr" if kind != "cabinet" else ""
                ),
                **address,
            },
        )
        mailbox_columns = join_columns(
            MAILBOX_SITE_COLUMNS,
            {
                "Raison Sociale structure BAL": name,
                "L4NUMEROVOIE": number,
                "NL4TYPEVOIE": street_code,
                "L4LIBELLEVOIE": street,
                "L6LIGNEACHEMINEMENT": f"{postcode} {commune.upper()}",
                "Code postal": postcode,
                "Département": dept,
                "Pays": "France",
            },
        )
        sector = "|".join(_SECTORS[kind])
        return Site(kind, name, finess, site_slug, columns, sector, mailbox_columns)

    def _name(self, kind: str, commune: str) -> str:
        family = self.rng.choice(samples.FAMILY_NAMES)
        return {
            "hospital": f"Centre hospitalier de {commune}",
            "clinic": f"Clinique Saint-Joseph de {commune}",
            "cabinet": f"Cabinet {family}",
            "pharmacy": f"Pharmacie {family}",
        }[kind]

    def mailbox_lines(self) -> list[str]:
        """ORG mailboxes of hospital and clinic services, APP of hospitals, CAB of practices."""
        lines = []
        for site in self.sites:
            domain = f"{site.slug}.mssante.fr"
            for service in _SERVICES.get(site.kind, ()):
                lines.append(site_mailbox("ORG", f"{service}@{domain}", site, service))
            if site.kind == "hospital":
                lines.append(site_mailbox("APP", f"dpi@{domain}", site))
            if site.kind == "cabinet":
                lines.append(site_mailbox("CAB", f"cabinet@{domain}", site))
        return lines


def site_mailbox(kind: str, address: str, site: Site, service: str = "") -> str:
    """One MSSanté line of a mailbox held by a site (FINESS-identified when it has one)."""
    owner = {
        "Type de BAL": kind,
        "Adresse BAL": address,
        "Type identifiant structure": "1" if site.finess else "",
        "Identification Structure": "1" + site.finess if site.finess else "",
        "Service de rattachement": service.capitalize(),
    }
    return join_columns(MSSANTE_COLUMNS[:18], owner) + "|" + site.mailbox_columns + "\n"
