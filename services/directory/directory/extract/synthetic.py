"""Realistic synthetic extracts (personne-activité and the matching MSSanté file) for tests.

Deterministic for a given seed. Codes and labels of professions and savoir-faire come from the
official value sets; communes are real; RPPS, FINESS, SIREN and SIRET carry valid Luhn keys.
Broken lines can be injected at chosen line numbers, each one a professional of its own so the
rest of the file keeps one run of lines per professional.
"""

import bisect
import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from directory.extract import samples
from directory.extract.formats import MSSANTE_COLUMNS, PERSONNE_ACTIVITE_COLUMNS
from directory.extract.sites import Site, SitePool, UniqueNames, pick, slug, with_key
from directory.extract.valuesets import ValueSets, load_value_sets

BREAKAGES = ("column-count", "bad-rpps", "invalid-utf8", "empty-name", "rpps-key")
_FLUSH_EVERY = 20_000
_SUFFIX = re.compile(r"\s*\([A-Z]+\)$")


@dataclass(frozen=True)
class Profile:
    """A kind of professional the generator draws: profession, specialty, where they work."""

    profession: str
    savoir_faire: str
    weight: int
    workplaces: tuple[str, ...]
    authority: str
    mail_domain: str
    doctor: bool = True


PROFILES = (
    Profile("10", "SM54", 30, ("cabinet", "cabinet", "hospital"), "CNOM/CNOM/CNOM", "medecin"),
    Profile("10", "SM32", 4, ("hospital", "hospital", "cabinet"), "CNOM/CNOM/CNOM", "medecin"),
    Profile("10", "SM36", 2, ("hospital", "clinic"), "CNOM/CNOM/CNOM", "medecin"),
    Profile("10", "SM37", 1, ("hospital", "clinic"), "CNOM/CNOM/CNOM", "medecin"),
    Profile("10", "SM14", 2, ("hospital", "clinic"), "CNOM/CNOM/CNOM", "medecin"),
    Profile("10", "SM04", 3, ("hospital", "cabinet", "clinic"), "CNOM/CNOM/CNOM", "medecin"),
    Profile("60", "", 35, ("hospital", "hospital", "cabinet"), "ONI/ONI/ONI", "infirmier", False),
    Profile("70", "", 10, ("cabinet",), "CNOMK/CNOMK/CNOMK", "kine", False),
    Profile("21", "", 8, ("pharmacy", "pharmacy", "hospital"), "CNOP/CNOP/CNOP", "pharmacien"),
    Profile("40", "", 4, ("cabinet", "cabinet", "hospital"), "CNOCD/CNOCD/CNOCD", "dentiste"),
    Profile("50", "", 2, ("hospital", "cabinet"), "CNOSF/CNOSF/CNOSF", "sagefemme", False),
    Profile("91", "", 3, ("cabinet",), "ARS/ARS/ARS", "orthophoniste", False),
)
_MODES = {"hospital": "S|Salarié", "clinic": "S|Salarié", "pharmacy": "L|Libéral"}


@dataclass
class GeneratedExtract:
    """What was written: paths and exact counts, so tests can state what parsing must find."""

    path: Path
    mssante_path: Path
    lines: int = 0
    professionals: int = 0
    organisations: int = 0
    mailboxes: int = 0
    broken: dict[int, str] = field(default_factory=dict)
    lines_by_profession: Counter = field(default_factory=Counter)


@dataclass
class Person:
    """A drawn professional; broken lines alter one before it is written."""

    profile: Profile
    given: str
    family: str
    female: bool
    kind: str
    number: str


def _label(sets: ValueSets, profile: Profile) -> tuple[str, str]:
    profession = sets.professions[profile.profession]
    specialty = (
        _SUFFIX.sub("", sets.savoir_faire[profile.savoir_faire]) if profile.savoir_faire else ""
    )
    return profession, specialty


class _Writer:
    """Holds the random source and the pools; writes both files."""

    def __init__(self, seed: int, sets: ValueSets, rows: int):
        self.rng = random.Random(seed)
        self.sets = sets
        self.rpps_start = 1_000_000_000 + self.rng.randrange(0, 800_000_000)
        self.person_seq = 0
        self.adeli_seq = 0
        self.mail_names = UniqueNames()
        self.profiles = PROFILES
        self.cum_weights = list(itertools.accumulate(p.weight for p in PROFILES))
        self.activity_parts = {p: self._activity_part(p) for p in PROFILES}
        self.sites = SitePool(self.rng, min(max(12, rows // 20), 50_000))

    def _activity_part(self, profile: Profile) -> str:
        profession, specialty = _label(self.sets, profile)
        sf_type = "S|Spécialité ordinale" if profile.savoir_faire else "|"
        codes = f"{profile.profession}|{profession}|C|Civil|{sf_type}"
        return f"{codes}|{profile.savoir_faire}|{specialty}"

    def person(self, profile: Profile | None = None) -> Person:
        """Draw a professional: identity, profile and identifier."""
        rng = self.rng
        if profile is None:
            draw = rng.random() * self.cum_weights[-1]
            profile = self.profiles[bisect.bisect(self.cum_weights, draw)]
        female = rng.random() < 0.55
        given = pick(rng, samples.FEMALE_GIVEN_NAMES if female else samples.MALE_GIVEN_NAMES)
        family = pick(rng, samples.FAMILY_NAMES)
        self.person_seq += 1
        if not profile.doctor and rng.random() < 0.05:
            self.adeli_seq += 1
            kind, number = (
                "0",
                with_key(f"{rng.choice(list(samples.DEPARTMENTS))}{self.adeli_seq:06d}"),
            )
        else:
            kind, number = "8", with_key(str(self.rpps_start + self.person_seq))
        return Person(profile, given, family, female, kind, number)

    def person_prefix(self, p: Person) -> str:
        """Columns 'Type d'identifiant PP' .. 'Prénom d'exercice' of a professional."""
        civ = "MME|Madame" if p.female else "M|Monsieur"
        title = "DR|Docteur" if p.profile.doctor else "|"
        return f"{p.kind}|{p.number}|{p.kind}{p.number}|{title}|{civ}|{p.family}|{p.given}"

    def activity_line(self, p: Person, prefix: str) -> tuple[str, Site]:
        """One activity line of the professional, at a workplace of their profile."""
        profile = p.profile
        site = self.sites.pick(pick(self.rng, profile.workplaces))
        mode = _MODES.get(site.kind, "L|Libéral")
        section = "A|Section A" if profile.profession == "21" and site.kind == "pharmacy" else "|"
        return (
            f"{prefix}|{self.activity_parts[profile]}|{mode}|{site.columns}|{profile.authority}|"
            f"{site.sector}|{section}|||GENR01|Activité standard|\n"
        ), site

    def personal_mailbox(self, p: Person, site: Site) -> str:
        """A PER mailbox line for the professional (unique address)."""
        profile = p.profile
        local = self.mail_names(f"{slug(p.given)}.{slug(p.family)}")
        profession, specialty = _label(self.sets, profile)
        owner = (  # the first 18 MSSanté columns, in order
            "PER",
            f"{local}@{profile.mail_domain}.mssante.fr",
            p.kind,
            p.number,
            p.kind + p.number,
            "",  # type identifiant structure
            "",  # identification structure
            "",  # service de rattachement
            "DR" if profile.doctor else "",
            p.family,
            p.given,
            "C",
            "Civil",
            profile.profession,
            profession,
            profile.savoir_faire,
            specialty,
            "O",  # dématérialisation
        )
        return "|".join(owner) + "|" + site.mailbox_columns + "\n"


def _header(columns: tuple[str, ...], trailing: bool) -> str:
    return "|".join(columns) + ("|" if trailing else "") + "\n"


def broken_line(writer: _Writer, breakage: str) -> bytes:
    """One line of a fresh general practitioner, spoiled the way `breakage` says."""
    gp = writer.person(PROFILES[0])
    gp.family = "Lefèvre"
    if breakage == "bad-rpps":
        gp.number = gp.number[:2] + "A" + gp.number[3:]
    elif breakage == "rpps-key":
        gp.number = gp.number[:-1] + str((int(gp.number[-1]) + 1) % 10)
    elif breakage == "empty-name":
        gp.family = ""
    elif breakage not in BREAKAGES:
        raise ValueError(f"unknown breakage: {breakage}")
    line, _ = writer.activity_line(gp, writer.person_prefix(gp))
    if breakage == "column-count":
        line = line.removesuffix("|\n").rsplit("|", 2)[0] + "|\n"
    return line.encode("latin-1" if breakage == "invalid-utf8" else "utf-8")


def generate(
    path: Path | str,
    rows: int,
    seed: int = 0,
    broken: dict[int, str] | None = None,
    mssante_path: Path | str | None = None,
    value_sets: ValueSets | None = None,
) -> GeneratedExtract:
    """Write `rows` activity lines (header excluded) and the matching MSSanté file.

    `broken` maps file line numbers (the header is line 1) to one of BREAKAGES.
    """
    path = Path(path)
    mss = (
        Path(mssante_path)
        if mssante_path
        else path.with_name("Extraction_Correspondance_MSSante.txt")
    )
    writer = _Writer(seed, value_sets or load_value_sets(), rows)
    summary = GeneratedExtract(path, mss, broken=dict(broken or {}))
    with open(path, "wb") as out, open(mss, "wb") as mss_out:
        out.write(_header(PERSONNE_ACTIVITE_COLUMNS, trailing=True).encode())
        mss_out.write(_header(MSSANTE_COLUMNS, trailing=False).encode())
        _write_people(writer, summary, rows, out, mss_out)
        org_lines = writer.sites.mailbox_lines()
        mss_out.write("".join(org_lines).encode())
    summary.organisations = len(writer.sites.sites)
    summary.mailboxes += len(org_lines)
    return summary


def _write_people(writer: _Writer, summary: GeneratedExtract, rows: int, out, mss_out) -> None:
    rng = writer.rng
    buffer: list[str] = []
    mail: list[str] = []
    line_no, last = 2, rows + 1
    while line_no <= last:
        if line_no in summary.broken:
            out.write("".join(buffer).encode())
            buffer.clear()
            out.write(broken_line(writer, summary.broken[line_no]))
            summary.professionals += 1
            line_no += 1
            continue
        person = writer.person()
        prefix = writer.person_prefix(person)
        count = min(_activity_count(rng), _room(summary.broken, line_no, last))
        for _ in range(count):
            line, site = writer.activity_line(person, prefix)
            buffer.append(line)
        summary.lines_by_profession[person.profile.profession] += count
        summary.professionals += 1
        if rng.random() < 0.6:
            mail.append(writer.personal_mailbox(person, site))
        line_no += count
        if len(buffer) >= _FLUSH_EVERY:
            out.write("".join(buffer).encode())
            mss_out.write("".join(mail).encode())
            summary.mailboxes += len(mail)
            buffer.clear()
            mail.clear()
    out.write("".join(buffer).encode())
    mss_out.write("".join(mail).encode())
    summary.mailboxes += len(mail)
    summary.lines = rows


def _activity_count(rng: random.Random) -> int:
    draw = rng.random()
    return 1 if draw < 0.7 else 2 if draw < 0.92 else 3


def _room(broken: dict[int, str], line_no: int, last: int) -> int:
    """How many lines fit from line_no before the next broken line or the end."""
    room = last - line_no + 1
    for offset in range(1, 3):
        if line_no + offset in broken:
            return min(room, offset)
    return room
