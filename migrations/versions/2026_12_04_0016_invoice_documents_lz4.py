"""Stored PDFs and XML are compressed with lz4 on PostgreSQL.

PostgreSQL's default, pglz, spent about half a millisecond of the server's CPU on each
invoice issued, most of it finding that the PDF (its streams already deflated) does not
compress; lz4 takes a third of that and stores a little less. Only new values are
compressed so: the documents already stored stay as they are, and read the same. A
server older than 14, or built without lz4, keeps its default. SQLite: nothing to do.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPRESSION_SQL = """
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
        EXECUTE 'ALTER TABLE invoice_documents '
            'ALTER COLUMN pdf SET COMPRESSION %(method)s, '
            'ALTER COLUMN xml SET COMPRESSION %(method)s';
    END IF;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(COMPRESSION_SQL % {"method": "lz4"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(COMPRESSION_SQL % {"method": "DEFAULT"})
