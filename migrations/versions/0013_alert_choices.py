"""alert choices: one subscription per address, following several themes and engagements

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 16:40:00

``alert_subscription`` becomes one row per address (``email`` lower-case and unique);
what it follows moves to ``alert_choice`` (a theme or an engagement each, confirmed or
waiting for the confirmation link). Existing single-choice subscriptions are merged
per address into the one with the lowest id:

- the choices of confirmed, not stopped rows are kept confirmed; those of rows never
  confirmed are kept waiting, with the newest row's confirmation link still valid;
  stopped rows bring no choice;
- the address counts as confirmed from its earliest confirmation, and as stopped only
  when none of its rows was still following or waiting;
- every old id (the kept row's own, and those of the rows merged into it) goes to
  ``alert_subscription_alias``, so the "stop these emails" links in alerts sent
  before this migration still work, and only through it (a removed row's id reused
  by SQLite opens nothing).

The rows are read and rewritten before the table loses its two target columns, and
``alert_choice`` is created only afterwards: on SQLite dropping those columns rebuilds
the table, which with foreign keys enforced would otherwise cascade to the choices.
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_SUBSCRIPTION = sa.table(
    "alert_subscription",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("theme_id", sa.Integer),
    sa.column("engagement_id", sa.Integer),
    sa.column("token_hash", sa.String),
    sa.column("token_created_at", sa.DateTime),
    sa.column("created_at", sa.DateTime),
    sa.column("confirmed_at", sa.DateTime),
    sa.column("unsubscribed_at", sa.DateTime),
)


def _merge(rows):
    """Per address: (kept id, its new values, its choices, every old id it stands for)."""
    groups = defaultdict(list)
    for row in rows:
        groups[row["email"].strip().lower()].append(row)
    for email, group in groups.items():
        group.sort(key=lambda r: r["id"])
        following = [r for r in group if r["confirmed_at"] and not r["unsubscribed_at"]]
        waiting = [r for r in group if not r["confirmed_at"] and not r["unsubscribed_at"]]
        confirmed = [r["confirmed_at"] for r in group if r["confirmed_at"]]
        newest_wait = max(
            waiting, key=lambda r: (r["token_created_at"] or r["created_at"], r["id"]), default=None
        )
        stopped = [r["unsubscribed_at"] for r in group if r["unsubscribed_at"]]
        values = {
            "email": email,
            "created_at": min(r["created_at"] for r in group),
            "confirmed_at": min(confirmed) if confirmed else None,
            "unsubscribed_at": max(stopped) if stopped and not (following or waiting) else None,
            "token_hash": newest_wait["token_hash"] if newest_wait else None,
            "token_created_at": newest_wait["token_created_at"] if newest_wait else None,
        }
        choices = {}
        for row in following + waiting:  # a confirmed choice wins over a waiting one
            key = (row["theme_id"], row["engagement_id"])
            choices.setdefault(
                key,
                {
                    "theme_id": row["theme_id"],
                    "engagement_id": row["engagement_id"],
                    "created_at": row["created_at"],
                    "confirmed_at": row["confirmed_at"] if row in following else None,
                },
            )
        yield group[0]["id"], values, list(choices.values()), [r["id"] for r in group]


def upgrade():
    conn = op.get_bind()
    rows = [dict(r) for r in conn.execute(sa.select(_SUBSCRIPTION)).mappings()]
    merged = list(_merge(rows))
    for primary, _values, _choices, old_ids in merged:
        others = [old for old in old_ids if old != primary]
        if others:
            conn.execute(_SUBSCRIPTION.delete().where(_SUBSCRIPTION.c.id.in_(others)))
    for primary, values, _choices, _others in merged:
        conn.execute(_SUBSCRIPTION.update().where(_SUBSCRIPTION.c.id == primary).values(**values))

    with op.batch_alter_table("alert_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_subscription_theme_id")
        batch_op.drop_index("ix_alert_subscription_engagement_id")
        batch_op.drop_index("ix_alert_subscription_email")
        batch_op.drop_constraint(op.f("ck_alert_subscription_one_target"), type_="check")
        batch_op.drop_constraint(op.f("fk_alert_subscription_theme_id_theme"), type_="foreignkey")
        batch_op.drop_constraint(
            op.f("fk_alert_subscription_engagement_id_engagement"), type_="foreignkey"
        )
        batch_op.drop_column("theme_id")
        batch_op.drop_column("engagement_id")
        batch_op.create_index("ix_alert_subscription_email", ["email"], unique=True)

    choice = op.create_table(
        "alert_choice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column("engagement_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(theme_id IS NULL AND engagement_id IS NOT NULL)"
            " OR (theme_id IS NOT NULL AND engagement_id IS NULL)",
            name=op.f("ck_alert_choice_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagement.id"],
            name=op.f("fk_alert_choice_engagement_id_engagement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["alert_subscription.id"],
            name=op.f("fk_alert_choice_subscription_id_alert_subscription"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["theme.id"],
            name=op.f("fk_alert_choice_theme_id_theme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_choice")),
        sa.UniqueConstraint("subscription_id", "theme_id", name=op.f("uq_alert_choice_theme")),
        sa.UniqueConstraint(
            "subscription_id", "engagement_id", name=op.f("uq_alert_choice_engagement")
        ),
    )
    op.create_index(op.f("ix_alert_choice_theme_id"), "alert_choice", ["theme_id"])
    op.create_index(op.f("ix_alert_choice_engagement_id"), "alert_choice", ["engagement_id"])
    alias = op.create_table(
        "alert_subscription_alias",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["alert_subscription.id"],
            name=op.f("fk_alert_subscription_alias_subscription_id_alert_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_subscription_alias")),
    )
    op.create_index(
        op.f("ix_alert_subscription_alias_subscription_id"),
        "alert_subscription_alias",
        ["subscription_id"],
    )
    choice_rows = [
        {"subscription_id": primary, **c} for primary, _v, choices, _o in merged for c in choices
    ]
    alias_rows = [
        {"id": old, "subscription_id": primary}
        for primary, _v, _c, old_ids in merged
        for old in old_ids
    ]
    if choice_rows:
        op.bulk_insert(choice, choice_rows)
    if alias_rows:
        op.bulk_insert(alias, alias_rows)


def downgrade():
    """Back to one row per choice; an address following nothing is removed."""
    conn = op.get_bind()
    choice = sa.table(
        "alert_choice",
        sa.column("id", sa.Integer),
        sa.column("subscription_id", sa.Integer),
        sa.column("theme_id", sa.Integer),
        sa.column("engagement_id", sa.Integer),
        sa.column("created_at", sa.DateTime),
        sa.column("confirmed_at", sa.DateTime),
    )
    subscriptions = {
        r["id"]: dict(r)
        for r in conn.execute(
            sa.select(
                _SUBSCRIPTION.c.id,
                _SUBSCRIPTION.c.email,
                _SUBSCRIPTION.c.token_hash,
                _SUBSCRIPTION.c.token_created_at,
                _SUBSCRIPTION.c.created_at,
                _SUBSCRIPTION.c.confirmed_at,
                _SUBSCRIPTION.c.unsubscribed_at,
            )
        ).mappings()
    }
    choices = defaultdict(list)
    for r in conn.execute(sa.select(choice).order_by(choice.c.id)).mappings():
        choices[r["subscription_id"]].append(dict(r))

    op.drop_index(
        op.f("ix_alert_subscription_alias_subscription_id"), table_name="alert_subscription_alias"
    )
    op.drop_table("alert_subscription_alias")
    op.drop_index(op.f("ix_alert_choice_engagement_id"), table_name="alert_choice")
    op.drop_index(op.f("ix_alert_choice_theme_id"), table_name="alert_choice")
    op.drop_table("alert_choice")

    with op.batch_alter_table("alert_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_subscription_email")
        batch_op.add_column(sa.Column("theme_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("engagement_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_alert_subscription_theme_id_theme"),
            "theme",
            ["theme_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            op.f("fk_alert_subscription_engagement_id_engagement"),
            "engagement",
            ["engagement_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index("ix_alert_subscription_email", ["email"], unique=False)
        batch_op.create_index(
            op.f("ix_alert_subscription_engagement_id"), ["engagement_id"], unique=False
        )
        batch_op.create_index(op.f("ix_alert_subscription_theme_id"), ["theme_id"], unique=False)

    for sub_id, sub in subscriptions.items():
        own = choices.get(sub_id, [])
        if not own:
            conn.execute(_SUBSCRIPTION.delete().where(_SUBSCRIPTION.c.id == sub_id))
            continue
        first, *rest = own
        conn.execute(
            _SUBSCRIPTION.update()
            .where(_SUBSCRIPTION.c.id == sub_id)
            .values(
                theme_id=first["theme_id"],
                engagement_id=first["engagement_id"],
                confirmed_at=first["confirmed_at"],
                token_hash=sub["token_hash"] if first["confirmed_at"] is None else None,
            )
        )
        for extra in rest:
            conn.execute(
                _SUBSCRIPTION.insert().values(
                    email=sub["email"],
                    theme_id=extra["theme_id"],
                    engagement_id=extra["engagement_id"],
                    created_at=extra["created_at"],
                    confirmed_at=extra["confirmed_at"],
                    unsubscribed_at=sub["unsubscribed_at"],
                )
            )

    with op.batch_alter_table("alert_subscription", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_alert_subscription_one_target"),
            "(theme_id IS NULL AND engagement_id IS NOT NULL)"
            " OR (theme_id IS NOT NULL AND engagement_id IS NULL)",
        )
