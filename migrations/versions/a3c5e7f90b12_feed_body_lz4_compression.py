"""feed body: lz4 compression on PostgreSQL

Every full GET of a feed reads its stored body. A unit feed is about 1 MB of text that
TOAST compresses to under a tenth; with the default pglz, PostgreSQL spent 2.4 ms of CPU
decompressing it per read, with lz4 1.2 ms (bench/README.md, feed_serve). The setting
applies to values written from now on, so the existing bodies are rewritten once.

Needs PostgreSQL 14+ built with lz4 (the Debian and official images are); elsewhere the
column keeps pglz, which only costs speed. Nothing to do on SQLite.

Revision ID: a3c5e7f90b12
Revises: fcb140209fd5
Create Date: 2026-12-02 04:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a3c5e7f90b12'
down_revision = 'fcb140209fd5'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        DO $$
        BEGIN
            ALTER TABLE feed ALTER COLUMN body SET COMPRESSION lz4;
            -- a copied value keeps its old compression: concatenation makes a new one
            UPDATE feed SET body = body || ''::bytea WHERE body IS NOT NULL;
        EXCEPTION WHEN feature_not_supported OR syntax_error THEN
            RAISE NOTICE 'feed.body keeps the default compression: %', SQLERRM;
        END
        $$
        """
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        DO $$
        BEGIN
            ALTER TABLE feed ALTER COLUMN body SET COMPRESSION default;
        EXCEPTION WHEN syntax_error THEN
            NULL;  -- PostgreSQL before 14 has no per-column compression
        END
        $$
        """
    )
