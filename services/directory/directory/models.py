"""directory's tables: practitioners, organisations, their roles, MSSanté mailboxes, import runs.

Rows are never deleted: an entry missing from a newer national snapshot is deactivated
(`active` false, `deactivated_at` set). `fingerprint` is the content hash of the extract layer
(directory.extract.records) that the importer compares to tell changed rows from unchanged ones.

The `*_search` columns hold `search_key(...)` of a name: lowercased, accents removed, hyphens
and apostrophes turned into spaces. They use a collation under which `LIKE 'prefix%'` is
served by their index on both backends (C on PostgreSQL, NOCASE on SQLite); a search value made
with `search_key` holds no LIKE wildcard.
"""

import datetime as dt
import re
import unicodedata
import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so
from servicekit.models import UTCDateTime, created, intpk, naming_metadata, utcnow, uuidpk

IMPORT_KINDS = ("ps", "mssante")
IMPORT_STATUSES = ("queued", "running", "done", "failed")
MAILBOX_KINDS = ("PER", "ORG", "APP", "CAB")

_SEPARATORS = re.compile(r"[-'’‐‑ʼ`_.,/]+")


def search_key(text: str | None) -> str:
    """A name as searches compare it: lowercase, no accents, hyphens/apostrophes as spaces."""
    bare = text or ""
    # ASCII has nothing to decompose, strip or spell out: half the names of an import.
    if not bare.isascii():
        decomposed = unicodedata.normalize("NFKD", bare)
        bare = "".join(char for char in decomposed if not unicodedata.combining(char))
        bare = bare.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    return " ".join(_SEPARATORS.sub(" ", bare.casefold()).split())


def SearchText(length: int = 200):
    """A string column type whose index serves prefix LIKE on PostgreSQL and SQLite."""
    return (
        sa.String(length)
        .with_variant(sa.String(length, collation="C"), "postgresql")
        .with_variant(sa.String(length, collation="NOCASE"), "sqlite")
    )


def KeyText(length: int):
    """A string column type for an identifier an import looks rows up and joins them by: on
    PostgreSQL its comparisons are byte by byte (collation "C", decision 61), where the
    database's own collation would compare it as language text."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


class Base(so.DeclarativeBase):
    metadata = naming_metadata()


class Practitioner(Base):
    """A health professional, identified nationally by 8 + RPPS or 0 + ADELI."""

    __tablename__ = "practitioners"

    id: so.Mapped[uuidpk]
    national_id: so.Mapped[str] = so.mapped_column(KeyText(20), unique=True)
    id_type: so.Mapped[str] = so.mapped_column(sa.String(1))  # "8" RPPS, "0" ADELI
    # Looked up as national_id, which is 8 + RPPS: no index of its own.
    rpps: so.Mapped[str | None] = so.mapped_column(sa.String(11))
    adeli: so.Mapped[str | None] = so.mapped_column(sa.String(9))
    civilite: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    civilite_exercice: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    family: so.Mapped[str] = so.mapped_column(sa.String(100))
    given: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    family_search: so.Mapped[str] = so.mapped_column(SearchText(100))
    given_search: so.Mapped[str] = so.mapped_column(SearchText(100))
    professions: so.Mapped[str] = so.mapped_column(sa.String(100), default="")  # codes, spaced
    active: so.Mapped[bool] = so.mapped_column(default=True)
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(32))
    created_at: so.Mapped[created]
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    deactivated_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)

    roles: so.WriteOnlyMapped["PractitionerRole"] = so.relationship(back_populates="practitioner")

    # A name search reads the matches of a prefix in the order it shows them, and stops at the
    # page's end: by family then given name, and for given-name matches by given then family.
    # `id` ends both: it breaks ties in that order, and a role search by name joins on it
    # without reading the table (thousands of namesakes before a rare speciality's page).
    __table_args__ = (
        sa.Index(None, "family_search", "given_search", "id"),
        sa.Index(None, "given_search", "family_search", "id"),
    )


class Organization(Base):
    """A place of practice, keyed by FINESS site, else SIRET, else the technical id."""

    __tablename__ = "organizations"

    id: so.Mapped[uuidpk]
    # "finess:<FINESS site>", "siret:<SIRET>" or "id:<technical id>" (extract records' key).
    key: so.Mapped[str] = so.mapped_column(KeyText(60), unique=True)
    finess: so.Mapped[str | None] = so.mapped_column(sa.String(9), index=True)
    finess_ej: so.Mapped[str | None] = so.mapped_column(sa.String(9))  # searched as part_of
    siret: so.Mapped[str | None] = so.mapped_column(sa.String(14), index=True)
    siren: so.Mapped[str | None] = so.mapped_column(sa.String(9))
    technical_id: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    name_search: so.Mapped[str] = so.mapped_column(SearchText(200), index=True)
    trade_name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    address_line: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    postcode: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    city_code: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    city: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    city_search: so.Mapped[str] = so.mapped_column(SearchText(100), default="", index=True)
    country: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    phone: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    email: so.Mapped[str] = so.mapped_column(sa.String(254), default="")
    department: so.Mapped[str] = so.mapped_column(sa.String(3), default="")
    sector_code: so.Mapped[str] = so.mapped_column(sa.String(10), default="", index=True)
    part_of: so.Mapped[str | None] = so.mapped_column(sa.String(9), index=True)  # FINESS EJ
    active: so.Mapped[bool] = so.mapped_column(default=True)
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(32))
    created_at: so.Mapped[created]
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    deactivated_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)

    # A search by place reads the ids of a postcode range (a département holds thousands of
    # sites) from the index alone.
    __table_args__ = (sa.Index(None, "postcode", "id"),)

    @property
    def key_kind(self) -> str:
        """Which identifier keys the organisation: finess, siret or id."""
        return self.key.split(":", 1)[0]

    @property
    def key_value(self) -> str:
        """The value of the keying identifier."""
        return self.key.split(":", 1)[1]


# The roles the speciality indexes hold, as SQL: SQLite uses a partial index for a query whose
# WHERE has this very term (PostgreSQL proves it from `savoir_faire_code = 'SM54'` too).
HAS_SPECIALITY = "savoir_faire_code != ''"


class PractitionerRole(Base):
    """One activity of a practitioner: profession, speciality, mode and place of practice.

    `fingerprint` is the activity's content hash (it includes the organisation key), so an
    activity that changes is a new role and the old one is deactivated.
    """

    __tablename__ = "practitioner_roles"

    id: so.Mapped[uuidpk]
    practitioner_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("practitioners.id"))
    organization_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("organizations.id"), index=True
    )
    profession_code: so.Mapped[str] = so.mapped_column(sa.String(10), default="", index=True)
    profession: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    category_code: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    savoir_faire_type: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    savoir_faire_code: so.Mapped[str] = so.mapped_column(sa.String(20), default="")
    savoir_faire_system: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    savoir_faire: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    mode_code: so.Mapped[str] = so.mapped_column(sa.String(10), default="")
    role_code: so.Mapped[str] = so.mapped_column(sa.String(20), default="")
    genre_code: so.Mapped[str] = so.mapped_column(sa.String(20), default="")
    # The practitioner's name keys, copied (the import keeps them in step): a search by
    # speciality and name reads one index in name order instead of every namesake's roles.
    family_search: so.Mapped[str] = so.mapped_column(SearchText(100), default="")
    given_search: so.Mapped[str] = so.mapped_column(SearchText(100), default="")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(32))
    created_at: so.Mapped[created]
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    deactivated_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)

    practitioner: so.Mapped[Practitioner] = so.relationship(back_populates="roles")
    organization: so.Mapped[Organization | None] = so.relationship()

    # A role search led by the practitioner's name looks up each namesake's roles and keeps
    # those of the speciality and place asked: this index answers it without reading a row.
    __table_args__ = (
        sa.UniqueConstraint("practitioner_id", "fingerprint"),
        sa.Index(
            "ix_practitioner_roles_practitioner_search",
            "practitioner_id",
            "savoir_faire_code",
            "organization_id",
            "id",
        ),
        # A search by speciality and name (the portal's form): the speciality's roles in the
        # order of each name part, with the organisation to check the place against. They also
        # serve a search by speciality alone (no index of its own). Only roles with a
        # savoir-faire are searched by it (three in five have none): the indexes leave the
        # others out, and a speciality search states HAS_SPECIALITY for SQLite to use them.
        sa.Index(
            "ix_practitioner_roles_specialty_family",
            "savoir_faire_code",
            "family_search",
            "given_search",
            "practitioner_id",
            "id",
            "organization_id",
            postgresql_where=sa.text(HAS_SPECIALITY),
            sqlite_where=sa.text(HAS_SPECIALITY),
        ),
        sa.Index(
            "ix_practitioner_roles_specialty_given",
            "savoir_faire_code",
            "given_search",
            "family_search",
            "practitioner_id",
            "id",
            "organization_id",
            postgresql_where=sa.text(HAS_SPECIALITY),
            sqlite_where=sa.text(HAS_SPECIALITY),
        ),
    )


class Mailbox(Base):
    """An MSSanté mailbox: personal (PER), organisational (ORG), application (APP), practice."""

    __tablename__ = "mailboxes"

    id: so.Mapped[uuidpk]
    address: so.Mapped[str] = so.mapped_column(KeyText(254), unique=True)  # lowercased
    kind: so.Mapped[str] = so.mapped_column(sa.String(3))
    practitioner_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("practitioners.id"), index=True
    )
    organization_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("organizations.id"), index=True
    )
    owner_national_id: so.Mapped[str] = so.mapped_column(sa.String(20), default="")
    structure_id: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    service: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    family: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    given: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    organisation_name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(32))
    created_at: so.Mapped[created]
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    deactivated_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)


class ImportRun(Base):
    """One import of an extract file: its progress, counts and outcome."""

    __tablename__ = "import_runs"

    id: so.Mapped[intpk]
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))  # IMPORT_KINDS
    file_name: so.Mapped[str] = so.mapped_column(sa.String(255))
    path: so.Mapped[str] = so.mapped_column(sa.String(1000), default="")
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="queued", index=True)
    bytes_total: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    bytes_read: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    lines: so.Mapped[int] = so.mapped_column(default=0)
    imported: so.Mapped[int] = so.mapped_column(default=0)
    rejected: so.Mapped[int] = so.mapped_column(default=0)
    warned: so.Mapped[int] = so.mapped_column(default=0)
    created: so.Mapped[int] = so.mapped_column(default=0)
    updated: so.Mapped[int] = so.mapped_column(default=0)
    deactivated: so.Mapped[int] = so.mapped_column(default=0)
    requested_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    started_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    finished_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    requested_by: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # The worker running the import beats at every batch; a stale beat means the worker died
    # (directory.imports.jobs). `attempts` counts the claims of the run.
    heartbeat_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default=sa.text("0"))


class ImportRejection(Base):
    """A line of an import left out (error) or kept with a remark (warning)."""

    __tablename__ = "import_rejections"

    id: so.Mapped[intpk]
    run_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("import_runs.id", ondelete="CASCADE"), index=True
    )
    line: so.Mapped[int]
    column: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    reason: so.Mapped[str] = so.mapped_column(sa.String(500))
    severity: so.Mapped[str] = so.mapped_column(sa.String(10))  # error / warning


class ImportStaging(Base):
    """What an import run read, one row per entity key, diffed against the stored rows at the end.

    Rows live for the duration of their run only.
    """

    __tablename__ = "import_staging"

    run_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("import_runs.id", ondelete="CASCADE"), primary_key=True
    )
    entity: so.Mapped[str] = so.mapped_column(KeyText(20), primary_key=True)
    key: so.Mapped[str] = so.mapped_column(KeyText(254), primary_key=True)
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(32))
    # The record as text (its values joined, see extract.rows), written and read by the importer.
    data: so.Mapped[str] = so.mapped_column(sa.Text)
    # Stored, active and with this fingerprint when staged: the diff skips it.
    unchanged: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
