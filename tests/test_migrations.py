"""The migrations, run as an operator runs them: `flask db upgrade / check / downgrade`."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]


def _flask(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fresh_databases(tmp_path):
    yield "sqlite", f"sqlite:///{tmp_path / 'migrations.sqlite3'}", None
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        url = make_url(base).set(drivername="postgresql+psycopg")
        name = f"vh_migrations_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

        def drop():
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

        yield "postgresql", url.set(database=name).render_as_string(hide_password=False), drop


@pytest.mark.slow
def test_upgrade_check_downgrade_on_empty_databases(tmp_path):
    ran = []
    for name, url, cleanup in _fresh_databases(tmp_path):
        try:
            for step in (["upgrade"], ["check"], ["downgrade", "base"], ["upgrade"]):
                result = _flask(url, *step)
                assert result.returncode == 0, f"{name} {step}: {result.stderr[-2000:]}"
                if step == ["check"]:
                    assert "No new upgrade operations detected" in result.stdout + result.stderr
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                categories = conn.execute(sa.text("SELECT count(*) FROM category")).scalar()
                if name == "postgresql":
                    # feed bodies are read on every full GET: lz4 decompresses at half the cost
                    compression = conn.execute(
                        sa.text(
                            "SELECT attcompression FROM pg_attribute"
                            " WHERE attrelid = 'feed'::regclass AND attname = 'body'"
                        )
                    ).scalar()
                    assert compression == "l"
            engine.dispose()
            assert categories >= 19
            ran.append(name)
        finally:
            if cleanup:
                cleanup()
    assert "sqlite" in ran
    if os.environ.get("TEST_DATABASE_URL"):
        assert "postgresql" in ran
