#!/usr/bin/env python3
"""Set up and run volunteer_hub with nothing but Python 3.11+.

    python3 dev.py run     # virtualenv, dependencies, database, demo data, server on :5000
    python3 dev.py test    # virtualenv with test tools, then pytest (extra args go to pytest)

The virtualenv lives in .venv/ and is only reinstalled when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what runs on an old Python
        sys.exit(f"volunteer_hub needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "run":
        return run(rest)
    if command == "test":
        return test(rest)
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


def ensure_venv(extras: str = "") -> None:
    if not PYTHON.exists():
        print(f"· creating virtualenv in {VENV.relative_to(ROOT)}/", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f".[{extras}]" if extras else "."
    stamp = VENV / f".installed{('-' + extras) if extras else ''}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"· installing dependencies ({target})", flush=True)
    check([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    check([PYTHON, "-m", "pip", "install", "--quiet", "-e", target])
    stamp.write_text(digest)


def run(args: list[str]) -> int:
    ensure_venv()
    env = server_env(os.environ)
    port, host = env["PORT"], env["HOST"]
    flask = [PYTHON, "-m", "flask", "--app", "wsgi"]
    # Each flask process says the same start-up warnings; the server says them once.
    check([*flask, "db", "upgrade"], env=env, quiet=True)
    check([*flask, "seed-demo"], env=env, quiet=True)
    print(f"· serving on http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    return call([*flask, "run", "--host", host, "--port", port, *args], env)


def server_env(environ) -> dict[str, str]:
    """The environment of the development server: ``environ`` with its defaults."""
    env = dict(environ)
    env.setdefault("DEV_PAGES", "1")  # /dev/sms: read the console texts, simulate replies
    env.setdefault("PORT", "5000")
    env.setdefault("HOST", "127.0.0.1")
    # Feed bodies and .ics files are built outside requests too (a worker, the tick), so
    # they cannot take the origin from a request: give them this server's, port included.
    env.setdefault("PUBLIC_BASE_URL", f"http://{env['HOST']}:{env['PORT']}")
    return env


def test(args: list[str]) -> int:
    ensure_venv("dev")
    return call([PYTHON, "-m", "pytest", *args], dict(os.environ))


#: start-up warnings of the app (volunteer_hub/__init__.py), said by every flask process
STARTUP_WARNINGS = ("SECRET_KEY is not set", "Embedded mode:")


def check(cmd: list, env: dict | None = None, quiet: bool = False) -> None:
    code = call(cmd, env, quiet)
    if code:
        sys.exit(code)


def call(cmd: list, env: dict | None = None, quiet: bool = False) -> int:
    """Run ``cmd``; ``quiet`` drops the app's start-up warnings from its error output
    (every other line is passed through as it comes)."""
    try:
        if not quiet:
            return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)
        with subprocess.Popen(
            [str(c) for c in cmd], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
        ) as process:
            assert process.stderr is not None
            for line in process.stderr:
                if not any(warning in line for warning in STARTUP_WARNINGS):
                    sys.stderr.write(line)
            return process.wait()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
