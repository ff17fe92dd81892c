"""dev.py, the one-command set-up: what the server is started with, and a quiet set-up."""

from __future__ import annotations

import sys

import dev


def test_the_server_gets_its_own_origin_with_the_port_for_feed_links():
    env = dev.server_env({"PORT": "5099"})
    assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:5099"
    assert dev.server_env({})["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    # One set by the operator stays.
    chosen = {"PUBLIC_BASE_URL": "https://vh.example.cn"}
    assert dev.server_env(chosen)["PUBLIC_BASE_URL"] == "https://vh.example.cn"


def test_set_up_steps_do_not_repeat_the_start_up_warnings(capfd):
    script = (
        "import sys;"
        "sys.stderr.write('W volunteer_hub: SECRET_KEY is not set: using a generated key\\n');"
        "sys.stderr.write('W volunteer_hub: Embedded mode: SQLite, in-process broker\\n');"
        "sys.stderr.write('INFO alembic: Running upgrade\\n');"
        "sys.exit(3)"
    )
    assert dev.call([sys.executable, "-c", script], quiet=True) == 3
    err = capfd.readouterr().err
    assert err == "INFO alembic: Running upgrade\n"
    assert dev.call([sys.executable, "-c", script]) == 3
    assert "SECRET_KEY is not set" in capfd.readouterr().err
