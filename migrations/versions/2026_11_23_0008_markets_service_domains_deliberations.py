"""Framework markets and their lots, service domains joined à la carte, the deliberations
behind tariffs, and what approved orders commit of a lot's yearly ceiling.

Rows recorded before these rules carry what the migration can know and nothing invented:

- a family's service domain is its code when the code names a domain (the shipped
  catalogue's five families); any other family stops the migration, to be mapped by hand;
- the deliberations of existing margin rates, price versions and fee schedules are
  unknown: families and fee bands keep them empty, and existing price versions become
  drafts, which price no order until a deliberation is attached (``centrale catalog
  load`` does it for every version of the catalogue files);
- existing products and order lines have no market lot: the catalogue load attaches the
  products; an order line placed before it cannot be approved (its market is unknown).

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-23 09:03:13.837648
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

DOMAINS = ("telecom", "video_protection", "mairie_connectee", "iot", "cybersecurity")

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "markets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_markets_ends_after_start")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_markets")),
        sa.UniqueConstraint("number", name=op.f("uq_markets_number")),
    )
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_markets_end_date"), ["end_date"], unique=False)

    op.create_table(
        "market_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("yearly_ceiling", sa.Numeric(14, 2), nullable=True),
        sa.CheckConstraint(
            "yearly_ceiling IS NULL OR yearly_ceiling > 0",
            name=op.f("ck_market_lots_yearly_ceiling_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["market_id"], ["markets.id"], name=op.f("fk_market_lots_market_id_markets")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_market_lots_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_lots")),
        sa.UniqueConstraint("market_id", "number", name=op.f("uq_market_lots_market_id_number")),
    )
    with op.batch_alter_table("market_lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_lots_market_id"), ["market_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_market_lots_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "member_service_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column(
            "domain",
            sa.Enum(
                "telecom",
                "video_protection",
                "mairie_connectee",
                "iot",
                "cybersecurity",
                name="service_domain",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("deliberation_reference", sa.String(length=100), nullable=False),
        sa.Column("deliberation_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "deliberation_date <= start_date",
            name=op.f("ck_member_service_domains_starts_after_deliberation"),
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date",
            name=op.f("ck_member_service_domains_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_service_domains_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_service_domains")),
    )
    with op.batch_alter_table("member_service_domains", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_service_domains_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            "uq_member_service_domains_member_id_domain_live",
            ["member_id", "domain"],
            unique=True,
            sqlite_where=sa.text("end_date IS NULL"),
            postgresql_where=sa.text("end_date IS NULL"),
        )

    op.create_table(
        "market_lot_commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "amount >= 0", name=op.f("ck_market_lot_commitments_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["market_lots.id"],
            name=op.f("fk_market_lot_commitments_lot_id_market_lots"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_market_lot_commitments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_lot_commitments")),
        sa.UniqueConstraint(
            "lot_id", "order_id", name=op.f("uq_market_lot_commitments_lot_id_order_id")
        ),
    )
    with op.batch_alter_table("market_lot_commitments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_market_lot_commitments_lot_id"), ["lot_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_market_lot_commitments_order_id"), ["order_id"], unique=False
        )

    with op.batch_alter_table("adhesion_fee_bands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deliberation_date", sa.Date(), nullable=True))

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("market_lot_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("deliberation_reference", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("deliberation_date", sa.Date(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_order_lines_market_lot_id"), ["market_lot_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_order_lines_market_lot_id_market_lots"),
            "market_lots",
            ["market_lot_id"],
            ["id"],
        )

    # Existing versions have no deliberation: drafts, until one is attached.
    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("deliberation_reference", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("deliberation_date", sa.Date(), nullable=True))
    op.execute("UPDATE price_versions SET status = 'draft'")
    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=20),
            type_=sa.Enum(
                "draft",
                "active",
                name="price_version_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        )
        batch_op.create_check_constraint(
            "deliberation_whole", "(deliberation_reference IS NULL) = (deliberation_date IS NULL)"
        )
        batch_op.create_check_constraint(
            "active_has_deliberation", "status = 'draft' OR deliberation_reference IS NOT NULL"
        )

    with op.batch_alter_table("product_families", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_domain", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("margin_deliberation_reference", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("margin_deliberation_date", sa.Date(), nullable=True))
    families = sa.table("product_families", sa.column("code"), sa.column("service_domain"))
    op.execute(
        families.update().where(families.c.code.in_(DOMAINS)).values(service_domain=families.c.code)
    )
    unmapped = (
        op.get_bind()
        .scalars(sa.select(families.c.code).where(families.c.service_domain.is_(None)))
        .all()
    )
    if unmapped:
        raise RuntimeError(
            f"families {', '.join(unmapped)} name no service domain ({', '.join(DOMAINS)}): "
            "set product_families.service_domain for them, then migrate again"
        )
    with op.batch_alter_table("product_families", schema=None) as batch_op:
        batch_op.alter_column(
            "service_domain",
            existing_type=sa.String(length=32),
            type_=sa.Enum(
                *DOMAINS,
                name="service_domain",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        )
        batch_op.create_check_constraint(
            "margin_deliberation_whole",
            "(margin_deliberation_reference IS NULL) = (margin_deliberation_date IS NULL)",
        )

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lot_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_products_lot_id"), ["lot_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_products_lot_id_market_lots"), "market_lots", ["lot_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_products_lot_id_market_lots"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_products_lot_id"))
        batch_op.drop_column("lot_id")

    with op.batch_alter_table("product_families", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_product_families_margin_deliberation_whole"), type_="check"
        )
        batch_op.drop_constraint(batch_op.f("ck_product_families_service_domain"), type_="check")
        batch_op.drop_column("margin_deliberation_date")
        batch_op.drop_column("margin_deliberation_reference")
        batch_op.drop_column("service_domain")

    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_price_versions_active_has_deliberation"), type_="check"
        )
        batch_op.drop_constraint(batch_op.f("ck_price_versions_deliberation_whole"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("ck_price_versions_price_version_status"), type_="check"
        )
        batch_op.drop_column("deliberation_date")
        batch_op.drop_column("deliberation_reference")
        batch_op.drop_column("status")

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_order_lines_market_lot_id_market_lots"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_order_lines_market_lot_id"))
        batch_op.drop_column("deliberation_date")
        batch_op.drop_column("deliberation_reference")
        batch_op.drop_column("market_lot_id")

    with op.batch_alter_table("adhesion_fee_bands", schema=None) as batch_op:
        batch_op.drop_column("deliberation_date")

    with op.batch_alter_table("market_lot_commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_lot_commitments_order_id"))
        batch_op.drop_index(batch_op.f("ix_market_lot_commitments_lot_id"))

    op.drop_table("market_lot_commitments")
    with op.batch_alter_table("member_service_domains", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_member_service_domains_member_id_domain_live",
            sqlite_where=sa.text("end_date IS NULL"),
            postgresql_where=sa.text("end_date IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_member_service_domains_member_id"))

    op.drop_table("member_service_domains")
    with op.batch_alter_table("market_lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_lots_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_market_lots_market_id"))

    op.drop_table("market_lots")
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_markets_end_date"))

    op.drop_table("markets")
