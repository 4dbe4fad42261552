"""Subsidies: FEDER programmes with their partners, eligible products and envelope,
aid consumed on invoice lines (and given back by credit notes), grant receipts and
reversals to partners.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 07:40:51.198431
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subsidy_programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("funder", sa.String(length=200), nullable=False),
        sa.Column("aid_label", sa.String(length=150), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("grant_total", sa.Numeric(14, 2), nullable=False),
        sa.Column("envelope", sa.Numeric(14, 2), nullable=False),
        sa.Column("consumed", sa.Numeric(14, 2), nullable=False),
        sa.Column("aid_in_vat_base", sa.Boolean(), nullable=False),
        sa.Column("member_kinds", sa.JSON(), nullable=False),
        sa.Column("max_population", sa.Integer(), nullable=True),
        sa.Column(
            "aid_kind",
            sa.Enum("rate", "fixed_per_unit", name="aidkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("aid_rate", sa.Numeric(7, 4), nullable=True),
        sa.Column("aid_per_unit", sa.Numeric(14, 2), nullable=True),
        sa.Column("aid_cap_per_unit", sa.Numeric(14, 2), nullable=True),
        sa.Column("aid_cap_per_line", sa.Numeric(14, 2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(aid_kind = 'fixed_per_unit') = (aid_per_unit IS NOT NULL)",
            name=op.f("ck_subsidy_programmes_fixed_rule_has_amount"),
        ),
        sa.CheckConstraint(
            "(aid_kind = 'rate') = (aid_rate IS NOT NULL)",
            name=op.f("ck_subsidy_programmes_rate_rule_has_rate"),
        ),
        sa.CheckConstraint(
            "aid_per_unit > 0 AND aid_cap_per_unit > 0 AND aid_cap_per_line > 0",
            name=op.f("ck_subsidy_programmes_aid_amounts_positive"),
        ),
        sa.CheckConstraint(
            "aid_rate > 0 AND aid_rate <= 1", name=op.f("ck_subsidy_programmes_aid_rate_range")
        ),
        sa.CheckConstraint(
            "consumed >= 0 AND consumed <= envelope",
            name=op.f("ck_subsidy_programmes_consumed_within_envelope"),
        ),
        sa.CheckConstraint(
            "envelope > 0 AND envelope <= grant_total",
            name=op.f("ck_subsidy_programmes_envelope_within_grant"),
        ),
        sa.CheckConstraint(
            "max_population >= 0", name=op.f("ck_subsidy_programmes_max_population_not_negative")
        ),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_subsidy_programmes_period_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_programmes")),
        sa.UniqueConstraint("code", name=op.f("uq_subsidy_programmes_code")),
    )
    op.create_table(
        "subsidy_partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("share", sa.Numeric(14, 2), nullable=False),
        sa.CheckConstraint("share > 0", name=op.f("ck_subsidy_partners_share_positive")),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["subsidy_programmes.id"],
            name=op.f("fk_subsidy_partners_programme_id_subsidy_programmes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_partners")),
        sa.UniqueConstraint(
            "programme_id", "code", name=op.f("uq_subsidy_partners_programme_id_code")
        ),
    )
    with op.batch_alter_table("subsidy_partners", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subsidy_partners_programme_id"), ["programme_id"], unique=False
        )

    op.create_table(
        "subsidy_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_subsidy_receipts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["subsidy_programmes.id"],
            name=op.f("fk_subsidy_receipts_programme_id_subsidy_programmes"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_subsidy_receipts_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_receipts")),
        sa.UniqueConstraint(
            "programme_id", "reference", name=op.f("uq_subsidy_receipts_programme_id_reference")
        ),
    )
    with op.batch_alter_table("subsidy_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subsidy_receipts_programme_id"), ["programme_id"], unique=False
        )

    op.create_table(
        "subsidy_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_subsidy_reversals_amount_positive")),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["subsidy_partners.id"],
            name=op.f("fk_subsidy_reversals_partner_id_subsidy_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["subsidy_programmes.id"],
            name=op.f("fk_subsidy_reversals_programme_id_subsidy_programmes"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_subsidy_reversals_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_reversals")),
        sa.UniqueConstraint(
            "programme_id", "reference", name=op.f("uq_subsidy_reversals_programme_id_reference")
        ),
    )
    with op.batch_alter_table("subsidy_reversals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subsidy_reversals_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subsidy_reversals_programme_id"), ["programme_id"], unique=False
        )

    op.create_table(
        "subsidy_programme_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_subsidy_programme_products_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["subsidy_programmes.id"],
            name=op.f("fk_subsidy_programme_products_programme_id_subsidy_programmes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_programme_products")),
        sa.UniqueConstraint(
            "programme_id",
            "product_id",
            name=op.f("uq_subsidy_programme_products_programme_id_product_id"),
        ),
    )
    with op.batch_alter_table("subsidy_programme_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subsidy_programme_products_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "subsidy_consumptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("line_key", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("line_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("consumed_on", sa.Date(), nullable=False),
        sa.Column("gives_back_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(amount > 0) = (gives_back_id IS NULL)",
            name=op.f("ck_subsidy_consumptions_give_back_not_positive"),
        ),
        sa.CheckConstraint(
            "line_amount >= 0", name=op.f("ck_subsidy_consumptions_line_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["gives_back_id"],
            ["subsidy_consumptions.id"],
            name=op.f("fk_subsidy_consumptions_gives_back_id_subsidy_consumptions"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_subsidy_consumptions_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_subsidy_consumptions_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["subsidy_programmes.id"],
            name=op.f("fk_subsidy_consumptions_programme_id_subsidy_programmes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_consumptions")),
        sa.UniqueConstraint(
            "invoice_id", "line_key", name=op.f("uq_subsidy_consumptions_invoice_id_line_key")
        ),
    )
    with op.batch_alter_table("subsidy_consumptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subsidy_consumptions_gives_back_id"), ["gives_back_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subsidy_consumptions_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subsidy_consumptions_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subsidy_consumptions_programme_id"), ["programme_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subsidy_consumptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsidy_consumptions_programme_id"))
        batch_op.drop_index(batch_op.f("ix_subsidy_consumptions_member_id"))
        batch_op.drop_index(batch_op.f("ix_subsidy_consumptions_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_subsidy_consumptions_gives_back_id"))

    op.drop_table("subsidy_consumptions")
    with op.batch_alter_table("subsidy_programme_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsidy_programme_products_product_id"))

    op.drop_table("subsidy_programme_products")
    with op.batch_alter_table("subsidy_reversals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsidy_reversals_programme_id"))
        batch_op.drop_index(batch_op.f("ix_subsidy_reversals_partner_id"))

    op.drop_table("subsidy_reversals")
    with op.batch_alter_table("subsidy_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsidy_receipts_programme_id"))

    op.drop_table("subsidy_receipts")
    with op.batch_alter_table("subsidy_partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsidy_partners_programme_id"))

    op.drop_table("subsidy_partners")
    op.drop_table("subsidy_programmes")
