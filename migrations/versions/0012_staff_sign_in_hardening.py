"""staff sign-in hardening: per-address throttle, recovery codes, forced re-enrolment

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 10:00:00

``sign_in_throttle`` counts failed passwords and codes per (email typed, client
address), replacing the account-wide count and lock (``staff_user.failed_sign_ins``
and ``locked_until`` go), so a stranger cannot lock a staff member out.
``staff_recovery_code`` holds Argon2 hashes of one-time recovery codes.
``staff_user.two_factor_must_enrol`` is set by an admin's reset of two-factor sign-in.

The columns are added and dropped with plain ALTER TABLE (SQLite 3.35 or later drops a
column in place), never by rebuilding staff_user: with foreign keys enforced, dropping
the old table in a rebuild would cascade to sessions, notes and the audit log.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sign_in_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_throttle")),
        sa.UniqueConstraint("email", "ip", name=op.f("uq_sign_in_throttle_email")),
    )
    op.create_index(
        op.f("ix_sign_in_throttle_last_failure_at"),
        "sign_in_throttle",
        ["last_failure_at"],
        unique=False,
    )
    op.create_table(
        "staff_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_recovery_code_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_code")),
    )
    op.create_index(
        op.f("ix_staff_recovery_code_user_id"), "staff_recovery_code", ["user_id"], unique=False
    )
    op.add_column(
        "staff_user",
        sa.Column("two_factor_must_enrol", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.drop_column("staff_user", "failed_sign_ins")
    op.drop_column("staff_user", "locked_until")


def downgrade():
    op.add_column("staff_user", sa.Column("locked_until", sa.DateTime(), nullable=True))
    op.add_column(
        "staff_user",
        sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False),
    )
    op.drop_column("staff_user", "two_factor_must_enrol")
    op.drop_index(op.f("ix_staff_recovery_code_user_id"), table_name="staff_recovery_code")
    op.drop_table("staff_recovery_code")
    op.drop_index(op.f("ix_sign_in_throttle_last_failure_at"), table_name="sign_in_throttle")
    op.drop_table("sign_in_throttle")
