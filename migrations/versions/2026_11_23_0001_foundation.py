"""Foundation: members and adhesions, catalogue and chart of accounts, users and
API tokens, audit trail, document number sequences, domain-event outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 06:49:41.824456
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "result",
                "third_party",
                "treasury",
                "expense",
                "revenue",
                name="accountkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("number", name=op.f("uq_accounts_number")),
    )
    op.create_table(
        "adhesion_fee_bands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("valid_from_year", sa.Integer(), nullable=False),
        sa.Column("population_min", sa.Integer(), nullable=False),
        sa.Column("population_max", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("deliberation_reference", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_adhesion_fee_bands_amount_not_negative")),
        sa.CheckConstraint(
            "population_max IS NULL OR population_max >= population_min",
            name=op.f("ck_adhesion_fee_bands_population_range_ordered"),
        ),
        sa.CheckConstraint(
            "population_min >= 0", name=op.f("ck_adhesion_fee_bands_population_min_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adhesion_fee_bands")),
        sa.UniqueConstraint(
            "valid_from_year",
            "population_min",
            name=op.f("uq_adhesion_fee_bands_valid_from_year_population_min"),
        ),
    )
    with op.batch_alter_table("adhesion_fee_bands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adhesion_fee_bands_valid_from_year"), ["valid_from_year"], unique=False
        )

    op.create_table(
        "domain_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_events")),
    )
    with op.batch_alter_table("domain_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domain_events_kind"), ["kind"], unique=False)
        batch_op.create_index("ix_domain_events_unconsumed", ["consumed_at", "id"], unique=False)

    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "commune",
                "epci",
                "departement",
                "region",
                "syndicat",
                "etablissement_public",
                "other",
                name="member_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=True),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("departement_code", sa.String(length=3), nullable=False),
        sa.Column("address_line1", sa.String(length=200), nullable=False),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("postal_code", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("billing_email", sa.String(length=254), nullable=False),
        sa.Column("chorus_service_code", sa.String(length=100), nullable=True),
        sa.Column("chorus_engagement_required", sa.Boolean(), nullable=False),
        sa.Column("vat_number", sa.String(length=14), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind != 'commune' OR insee_code IS NOT NULL",
            name=op.f("ck_members_commune_has_insee_code"),
        ),
        sa.CheckConstraint("population >= 0", name=op.f("ck_members_population_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("siret", name=op.f("uq_members_siret")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_members_departement_code"), ["departement_code"], unique=False
        )

    op.create_table(
        "number_sequences",
        sa.Column("series", sa.String(length=10), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "fiscal_year", name=op.f("pk_number_sequences")),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("vat_number", sa.String(length=20), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.CheckConstraint("length(siret) = 14", name=op.f("ck_suppliers_siret_has_14_digits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("code", name=op.f("uq_suppliers_code")),
        sa.UniqueConstraint("siret", name=op.f("uq_suppliers_siret")),
    )
    op.create_table(
        "adhesions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "active",
                "suspended",
                "withdrawn",
                name="adhesion_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("convention_number", sa.String(length=50), nullable=True),
        sa.Column("deliberation_reference", sa.String(length=100), nullable=True),
        sa.Column("deliberation_date", sa.Date(), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(status = 'withdrawn') = (end_date IS NOT NULL)",
            name=op.f("ck_adhesions_withdrawn_has_end_date"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('active', 'suspended') OR (convention_number IS NOT NULL AND deliberation_reference IS NOT NULL AND deliberation_date IS NOT NULL AND start_date IS NOT NULL)",
            name=op.f("ck_adhesions_in_force_has_convention"),
        ),
        sa.CheckConstraint(
            "deliberation_date IS NULL OR start_date IS NULL OR deliberation_date <= start_date",
            name=op.f("ck_adhesions_starts_after_deliberation"),
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_adhesions_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_adhesions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adhesions")),
    )
    with op.batch_alter_table("adhesions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adhesions_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            "uq_adhesions_member_id_live",
            ["member_id"],
            unique=True,
            sqlite_where=sa.text("status != 'withdrawn'"),
            postgresql_where=sa.text("status != 'withdrawn'"),
        )

    op.create_table(
        "product_families",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "purchase_mode",
            sa.Enum(
                "wholesaler", "intermediary", name="purchasemode", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("margin_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("sales_account_id", sa.Integer(), nullable=True),
        sa.Column("purchase_account_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "purchase_mode = 'intermediary' OR (sales_account_id IS NOT NULL AND purchase_account_id IS NOT NULL)",
            name=op.f("ck_product_families_wholesaler_has_accounts"),
        ),
        sa.CheckConstraint(
            "purchase_mode = 'wholesaler' OR margin_rate = 0",
            name=op.f("ck_product_families_intermediary_has_no_margin"),
        ),
        sa.CheckConstraint(
            "margin_rate >= 0 AND margin_rate < 1",
            name=op.f("ck_product_families_margin_rate_range"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_account_id"],
            ["accounts.id"],
            name=op.f("fk_product_families_purchase_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["sales_account_id"],
            ["accounts.id"],
            name=op.f("fk_product_families_sales_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_families")),
        sa.UniqueConstraint("code", name=op.f("uq_product_families_code")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "member",
                "purchasing",
                "finance",
                "auditor",
                "admin",
                name="role",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role = 'member') = (member_id IS NOT NULL)",
            name=op.f("ck_users_member_role_has_member"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_users_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_member_id"), ["member_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_records_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
    )
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_records_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_records_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_records_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_records_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("market_reference", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=30), nullable=False),
        sa.Column(
            "billing",
            sa.Enum("one_off", "monthly", "yearly", name="billing", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("vat_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("subsidy_eligible", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sales_account_id", sa.Integer(), nullable=True),
        sa.Column("purchase_account_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "vat_rate >= 0 AND vat_rate < 1", name=op.f("ck_products_vat_rate_range")
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["product_families.id"],
            name=op.f("fk_products_family_id_product_families"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_account_id"],
            ["accounts.id"],
            name=op.f("fk_products_purchase_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["sales_account_id"],
            ["accounts.id"],
            name=op.f("fk_products_sales_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_products_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_family_id"), ["family_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_products_supplier_id"), ["supplier_id"], unique=False)

    op.create_table(
        "price_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("supplier_cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("sale_price", sa.Numeric(14, 2), nullable=True),
        sa.Column("margin_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("setup_fee_cost", sa.Numeric(14, 2), nullable=True),
        sa.Column("setup_fee_price", sa.Numeric(14, 2), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "margin_rate >= 0 AND margin_rate < 1", name=op.f("ck_price_versions_margin_rate_range")
        ),
        sa.CheckConstraint(
            "sale_price IS NULL OR sale_price >= 0",
            name=op.f("ck_price_versions_sale_price_not_negative"),
        ),
        sa.CheckConstraint(
            "setup_fee_cost IS NULL OR setup_fee_cost >= 0",
            name=op.f("ck_price_versions_setup_fee_cost_not_negative"),
        ),
        sa.CheckConstraint(
            "setup_fee_price IS NULL OR (setup_fee_cost IS NOT NULL AND setup_fee_price >= 0)",
            name=op.f("ck_price_versions_setup_fee_price_has_cost"),
        ),
        sa.CheckConstraint(
            "supplier_cost >= 0", name=op.f("ck_price_versions_supplier_cost_not_negative")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from",
            name=op.f("ck_price_versions_valid_to_not_before"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_price_versions_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_versions")),
        sa.UniqueConstraint(
            "product_id", "valid_from", name=op.f("uq_price_versions_product_id_valid_from")
        ),
    )
    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_versions_product_id"), ["product_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_versions_product_id"))

    op.drop_table("price_versions")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_products_family_id"))

    op.drop_table("products")
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_records_entity")
        batch_op.drop_index(batch_op.f("ix_audit_records_at"))
        batch_op.drop_index(batch_op.f("ix_audit_records_actor_id"))
        batch_op.drop_index(batch_op.f("ix_audit_records_action"))

    op.drop_table("audit_records")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_member_id"))

    op.drop_table("users")
    op.drop_table("product_families")
    with op.batch_alter_table("adhesions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_adhesions_member_id_live",
            sqlite_where=sa.text("status != 'withdrawn'"),
            postgresql_where=sa.text("status != 'withdrawn'"),
        )
        batch_op.drop_index(batch_op.f("ix_adhesions_member_id"))

    op.drop_table("adhesions")
    op.drop_table("suppliers")
    op.drop_table("number_sequences")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_departement_code"))

    op.drop_table("members")
    with op.batch_alter_table("domain_events", schema=None) as batch_op:
        batch_op.drop_index("ix_domain_events_unconsumed")
        batch_op.drop_index(batch_op.f("ix_domain_events_kind"))

    op.drop_table("domain_events")
    with op.batch_alter_table("adhesion_fee_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adhesion_fee_bands_valid_from_year"))

    op.drop_table("adhesion_fee_bands")
    op.drop_table("accounts")
