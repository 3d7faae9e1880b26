"""practitioners with an active role without an organisation are compared again by the next
import: an earlier import could leave the organisation out of a role (see decision 59)

Revision ID: 0012_recompare_placeless_roles
Revises: 0011_rpps_by_national_id
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_recompare_placeless_roles"
down_revision = "0011_rpps_by_national_id"
branch_labels = None
depends_on = None

practitioners = sa.table("practitioners", sa.column("id"), sa.column("fingerprint"))
roles = sa.table(
    "practitioner_roles",
    sa.column("practitioner_id"),
    sa.column("organization_id"),
    sa.column("active", sa.Boolean),
)


def upgrade():
    # A stored fingerprint no import computes: the next one writes these practitioners again,
    # and each role's organisation with them (their roles that have none keep none).
    placeless = sa.select(roles.c.practitioner_id).where(
        roles.c.active.is_(True), roles.c.organization_id.is_(None)
    )
    op.execute(
        sa.update(practitioners).where(practitioners.c.id.in_(placeless)).values(fingerprint="")
    )


def downgrade():
    pass  # the next import restores the fingerprints it compared again
