"""directory: practitioners, organizations, roles, mailboxes, import runs

Revision ID: 0002_directory
Revises: 0001_kit
Create Date: 2026-11-29
"""

import servicekit.models
import sqlalchemy as sa
from alembic import op

revision = "0002_directory"
down_revision = "0001_kit"
branch_labels = None
depends_on = None


def _search_text(length):
    # Collations under which the index serves LIKE 'prefix%' (see directory.models).
    return (
        sa.String(length)
        .with_variant(sa.String(length, collation="C"), "postgresql")
        .with_variant(sa.String(length, collation="NOCASE"), "sqlite")
    )


def upgrade():
    op.create_table(
        "import_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("warned", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deactivated", sa.Integer(), nullable=False),
        sa.Column("requested_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", servicekit.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", servicekit.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_runs_status"), ["status"], unique=False)

    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("finess", sa.String(length=9), nullable=True),
        sa.Column("finess_ej", sa.String(length=9), nullable=True),
        sa.Column("siret", sa.String(length=14), nullable=True),
        sa.Column("siren", sa.String(length=9), nullable=True),
        sa.Column("technical_id", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_search", _search_text(200), nullable=False),
        sa.Column("trade_name", sa.String(length=200), nullable=False),
        sa.Column("address_line", sa.String(length=300), nullable=False),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("city_code", sa.String(length=10), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("city_search", _search_text(100), nullable=False),
        sa.Column("country", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("sector_code", sa.String(length=10), nullable=False),
        sa.Column("part_of", sa.String(length=9), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("created_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", servicekit.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("key", name=op.f("uq_organizations_key")),
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organizations_active"), ["active"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_organizations_city_search"), ["city_search"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_organizations_finess"), ["finess"], unique=False)
        batch_op.create_index(batch_op.f("ix_organizations_finess_ej"), ["finess_ej"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_organizations_name_search"), ["name_search"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_organizations_part_of"), ["part_of"], unique=False)
        batch_op.create_index(batch_op.f("ix_organizations_postcode"), ["postcode"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_organizations_sector_code"), ["sector_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_organizations_siret"), ["siret"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_organizations_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "practitioners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("id_type", sa.String(length=1), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=True),
        sa.Column("adeli", sa.String(length=9), nullable=True),
        sa.Column("civilite", sa.String(length=10), nullable=False),
        sa.Column("civilite_exercice", sa.String(length=10), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("given", sa.String(length=100), nullable=False),
        sa.Column("family_search", _search_text(100), nullable=False),
        sa.Column("given_search", _search_text(100), nullable=False),
        sa.Column("professions", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("created_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", servicekit.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
        sa.UniqueConstraint("national_id", name=op.f("uq_practitioners_national_id")),
    )
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioners_active"), ["active"], unique=False)
        batch_op.create_index(batch_op.f("ix_practitioners_adeli"), ["adeli"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_practitioners_family_search"), ["family_search"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_practitioners_given_search"), ["given_search"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_practitioners_rpps"), ["rpps"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_practitioners_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "import_rejections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_import_rejections_run_id_import_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rejections")),
    )
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_rejections_run_id"), ["run_id"], unique=False)

    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("owner_national_id", sa.String(length=20), nullable=False),
        sa.Column("structure_id", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("given", sa.String(length=100), nullable=False),
        sa.Column("organisation_name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("created_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", servicekit.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_mailboxes_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_mailboxes_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailboxes")),
        sa.UniqueConstraint("address", name=op.f("uq_mailboxes_address")),
    )
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailboxes_active"), ["active"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mailboxes_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailboxes_owner_national_id"), ["owner_national_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailboxes_practitioner_id"), ["practitioner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailboxes_structure_id"), ["structure_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mailboxes_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "practitioner_roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("profession_code", sa.String(length=10), nullable=False),
        sa.Column("profession", sa.String(length=200), nullable=False),
        sa.Column("category_code", sa.String(length=10), nullable=False),
        sa.Column("savoir_faire_type", sa.String(length=10), nullable=False),
        sa.Column("savoir_faire_code", sa.String(length=20), nullable=False),
        sa.Column("savoir_faire_system", sa.String(length=100), nullable=False),
        sa.Column("savoir_faire", sa.String(length=200), nullable=False),
        sa.Column("mode_code", sa.String(length=10), nullable=False),
        sa.Column("role_code", sa.String(length=20), nullable=False),
        sa.Column("genre_code", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("created_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", servicekit.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_practitioner_roles_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_practitioner_roles_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioner_roles")),
        sa.UniqueConstraint(
            "practitioner_id",
            "fingerprint",
            name=op.f("uq_practitioner_roles_practitioner_id_fingerprint"),
        ),
    )
    with op.batch_alter_table("practitioner_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioner_roles_active"), ["active"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_practitioner_roles_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_practitioner_roles_profession_code"), ["profession_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_practitioner_roles_savoir_faire_code"),
            ["savoir_faire_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_practitioner_roles_updated_at"), ["updated_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("practitioner_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioner_roles_updated_at"))
        batch_op.drop_index(batch_op.f("ix_practitioner_roles_savoir_faire_code"))
        batch_op.drop_index(batch_op.f("ix_practitioner_roles_profession_code"))
        batch_op.drop_index(batch_op.f("ix_practitioner_roles_organization_id"))
        batch_op.drop_index(batch_op.f("ix_practitioner_roles_active"))

    op.drop_table("practitioner_roles")
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailboxes_updated_at"))
        batch_op.drop_index(batch_op.f("ix_mailboxes_structure_id"))
        batch_op.drop_index(batch_op.f("ix_mailboxes_practitioner_id"))
        batch_op.drop_index(batch_op.f("ix_mailboxes_owner_national_id"))
        batch_op.drop_index(batch_op.f("ix_mailboxes_organization_id"))
        batch_op.drop_index(batch_op.f("ix_mailboxes_active"))

    op.drop_table("mailboxes")
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_rejections_run_id"))

    op.drop_table("import_rejections")
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioners_updated_at"))
        batch_op.drop_index(batch_op.f("ix_practitioners_rpps"))
        batch_op.drop_index(batch_op.f("ix_practitioners_given_search"))
        batch_op.drop_index(batch_op.f("ix_practitioners_family_search"))
        batch_op.drop_index(batch_op.f("ix_practitioners_adeli"))
        batch_op.drop_index(batch_op.f("ix_practitioners_active"))

    op.drop_table("practitioners")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organizations_updated_at"))
        batch_op.drop_index(batch_op.f("ix_organizations_siret"))
        batch_op.drop_index(batch_op.f("ix_organizations_sector_code"))
        batch_op.drop_index(batch_op.f("ix_organizations_postcode"))
        batch_op.drop_index(batch_op.f("ix_organizations_part_of"))
        batch_op.drop_index(batch_op.f("ix_organizations_name_search"))
        batch_op.drop_index(batch_op.f("ix_organizations_finess_ej"))
        batch_op.drop_index(batch_op.f("ix_organizations_finess"))
        batch_op.drop_index(batch_op.f("ix_organizations_city_search"))
        batch_op.drop_index(batch_op.f("ix_organizations_active"))

    op.drop_table("organizations")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_runs_status"))

    op.drop_table("import_runs")
