"""Orders: members' orders and their lines with frozen prices, deliveries, purchase orders
to suppliers, supplier invoices matched against them, subscriptions and their quantities.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 07:16:29.188627
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "approved",
                "ordered",
                "partly_delivered",
                "delivered",
                "closed",
                "cancelled",
                name="order_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("engagement_number", sa.String(length=50), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_by_id", sa.Integer(), nullable=True),
        sa.Column("return_reason", sa.String(length=500), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by_id", sa.Integer(), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancellation_reason IS NOT NULL)",
            name=op.f("ck_orders_cancelled_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_orders_approved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"], ["users.id"], name=op.f("fk_orders_cancelled_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_orders_closed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_orders_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_orders_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["returned_by_id"], ["users.id"], name=op.f("fk_orders_returned_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"], ["users.id"], name=op.f("fk_orders_sent_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_orders_submitted_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("reference", name=op.f("uq_orders_reference")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "issued",
                "sent",
                "partly_invoiced",
                "invoiced",
                "cancelled",
                name="purchase_order_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"], ["users.id"], name=op.f("fk_purchase_orders_cancelled_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_purchase_orders_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"], ["users.id"], name=op.f("fk_purchase_orders_sent_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_purchase_orders_number")),
        sa.UniqueConstraint(
            "order_id", "supplier_id", name=op.f("uq_purchase_orders_order_id_supplier_id")
        ),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_orders_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchase_orders_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 3), nullable=False),
        sa.Column("delivery_site", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("price_version_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("designation", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=30), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("family_code", sa.String(length=40), nullable=False),
        sa.Column(
            "purchase_mode",
            sa.Enum(
                "wholesaler",
                "intermediary",
                name="purchase_mode",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "billing",
            sa.Enum(
                "one_off",
                "monthly",
                "yearly",
                name="billing",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("supplier_cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("sale_price", sa.Numeric(14, 2), nullable=False),
        sa.Column("setup_fee_cost", sa.Numeric(14, 2), nullable=True),
        sa.Column("setup_fee_price", sa.Numeric(14, 2), nullable=True),
        sa.Column("vat_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("subsidy_eligible", sa.Boolean(), nullable=False),
        sa.Column("sales_account", sa.String(length=10), nullable=True),
        sa.Column("purchase_account", sa.String(length=10), nullable=True),
        sa.Column("delivered_quantity", sa.Numeric(12, 3), nullable=False),
        sa.Column("commissioned_on", sa.Date(), nullable=True),
        sa.Column("setup_fee_due_on", sa.Date(), nullable=True),
        sa.Column("setup_fee_billed_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "billing != 'one_off' OR (commissioned_on IS NULL AND setup_fee_cost IS NULL)",
            name=op.f("ck_order_lines_one_off_is_delivered_not_commissioned"),
        ),
        sa.CheckConstraint(
            "purchase_mode = 'intermediary' OR (sales_account IS NOT NULL AND purchase_account IS NOT NULL)",
            name=op.f("ck_order_lines_wholesaler_has_accounts"),
        ),
        sa.CheckConstraint(
            "delivered_quantity >= 0 AND delivered_quantity <= quantity",
            name=op.f("ck_order_lines_delivered_within_ordered"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "setup_fee_billed_on IS NULL OR setup_fee_due_on IS NOT NULL",
            name=op.f("ck_order_lines_setup_fee_billed_when_due"),
        ),
        sa.CheckConstraint(
            "setup_fee_due_on IS NULL OR setup_fee_price IS NOT NULL",
            name=op.f("ck_order_lines_setup_fee_due_has_price"),
        ),
        sa.CheckConstraint(
            "setup_fee_price IS NULL OR setup_fee_cost IS NOT NULL",
            name=op.f("ck_order_lines_setup_fee_has_cost"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["price_version_id"],
            ["price_versions.id"],
            name=op.f("fk_order_lines_price_version_id_price_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_order_lines_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        sa.UniqueConstraint("order_id", "position", name=op.f("uq_order_lines_order_id_position")),
    )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_lines_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_lines_product_id"), ["product_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_order_lines_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "supplier_invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("invoice_number", sa.String(length=50), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("total_excl_vat", sa.Numeric(14, 2), nullable=False),
        sa.Column("total_vat", sa.Numeric(14, 2), nullable=False),
        sa.Column("total_incl_vat", sa.Numeric(14, 2), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "matched",
                "mismatch",
                "accepted",
                "rejected",
                name="supplier_invoice_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(status IN ('accepted', 'rejected')) = (decision_reason IS NOT NULL)",
            name=op.f("ck_supplier_invoices_decision_has_reason"),
        ),
        sa.CheckConstraint(
            "total_incl_vat = total_excl_vat + total_vat",
            name=op.f("ck_supplier_invoices_total_is_sum_of_parts"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_supplier_invoices_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_supplier_invoices_purchase_order_id_purchase_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_supplier_invoices_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_supplier_invoices_supplier_id_suppliers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_invoices")),
        sa.UniqueConstraint(
            "supplier_id",
            "invoice_number",
            name=op.f("uq_supplier_invoices_supplier_id_invoice_number"),
        ),
    )
    with op.batch_alter_table("supplier_invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supplier_invoices_purchase_order_id"),
            ["purchase_order_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_supplier_invoices_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_supplier_invoices_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "order_line_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 3), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("billed_on", sa.Date(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_line_deliveries_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_order_line_deliveries_order_line_id_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_order_line_deliveries_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line_deliveries")),
    )
    with op.batch_alter_table("order_line_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_line_deliveries_order_line_id"), ["order_line_id"], unique=False
        )

    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "item",
                "setup_fee",
                name="purchase_order_line_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "billing",
            sa.Enum(
                "one_off",
                "monthly",
                "yearly",
                name="billing",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=250), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 3), nullable=False),
        sa.Column("unit_cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("vat_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("purchase_account", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "kind = 'item' OR billing = 'one_off'",
            name=op.f("ck_purchase_order_lines_setup_fee_is_one_off"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_purchase_order_lines_order_line_id_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_purchase_order_id_purchase_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
        sa.UniqueConstraint(
            "order_line_id", "kind", name=op.f("uq_purchase_order_lines_order_line_id_kind")
        ),
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_order_lines_order_line_id"), ["order_line_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_order_lines_purchase_order_id"),
            ["purchase_order_id"],
            unique=False,
        )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column(
            "billing_period",
            sa.Enum(
                "one_off",
                "monthly",
                "yearly",
                name="billing",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("unit_price", sa.Numeric(14, 2), nullable=False),
        sa.Column("unit_cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("vat_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("subsidy_eligible", sa.Boolean(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terminated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "billing_period != 'one_off'", name=op.f("ck_subscriptions_billing_period_is_recurring")
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date",
            name=op.f("ck_subscriptions_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_subscriptions_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_subscriptions_order_line_id_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_subscriptions_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["terminated_by_id"], ["users.id"], name=op.f("fk_subscriptions_terminated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("order_line_id", name=op.f("uq_subscriptions_order_line_id")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_subscriptions_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "subscription_quantities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 3), nullable=False),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_subscription_quantities_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_quantities_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_quantities")),
        sa.UniqueConstraint(
            "subscription_id",
            "effective_from",
            name=op.f("uq_subscription_quantities_subscription_id_effective_from"),
        ),
    )
    with op.batch_alter_table("subscription_quantities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_quantities_subscription_id"),
            ["subscription_id"],
            unique=False,
        )

    op.create_table(
        "supplier_invoice_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_invoice_id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 3), nullable=False),
        sa.Column("unit_cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("vat_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("mismatches", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "(period_start IS NULL) = (period_end IS NULL) AND (period_end IS NULL OR period_end >= period_start)",
            name=op.f("ck_supplier_invoice_lines_period_is_whole"),
        ),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_supplier_invoice_lines_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_line_id"],
            ["purchase_order_lines.id"],
            name="fk_supplier_invoice_lines_purchase_order_line_id",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_invoice_id"],
            ["supplier_invoices.id"],
            name=op.f("fk_supplier_invoice_lines_supplier_invoice_id_supplier_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_invoice_lines")),
        sa.UniqueConstraint(
            "supplier_invoice_id",
            "purchase_order_line_id",
            name="uq_supplier_invoice_lines_purchase_order_line",
        ),
    )
    with op.batch_alter_table("supplier_invoice_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supplier_invoice_lines_purchase_order_line_id"),
            ["purchase_order_line_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_supplier_invoice_lines_supplier_invoice_id"),
            ["supplier_invoice_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("supplier_invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_invoice_lines_supplier_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_supplier_invoice_lines_purchase_order_line_id"))

    op.drop_table("supplier_invoice_lines")
    with op.batch_alter_table("subscription_quantities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_quantities_subscription_id"))

    op.drop_table("subscription_quantities")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_product_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_member_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_order_lines_purchase_order_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_order_lines_order_line_id"))

    op.drop_table("purchase_order_lines")
    with op.batch_alter_table("order_line_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_line_deliveries_order_line_id"))

    op.drop_table("order_line_deliveries")
    with op.batch_alter_table("supplier_invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_invoices_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_supplier_invoices_status"))
        batch_op.drop_index(batch_op.f("ix_supplier_invoices_purchase_order_id"))

    op.drop_table("supplier_invoices")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_lines_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_order_lines_product_id"))
        batch_op.drop_index(batch_op.f("ix_order_lines_order_id"))

    op.drop_table("order_lines")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_status"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_order_id"))

    op.drop_table("purchase_orders")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_member_id"))

    op.drop_table("orders")
