"""Real server processes on free 127.0.0.1 ports, for fault tests and benchmarks.

A private Redis and a private PostgreSQL cluster that a test may stop, kill and restart
without touching the machine's shared servers; gunicorn and a Dramatiq worker from this
checkout, each in a process group of its own (so stopping one never signals anything
else), logging to a file the caller reads when something goes wrong.

    with RedisServer(workdir) as redis_server, PostgresCluster() as postgres:
        url = postgres.create_database("vh_faults")
        web = Gunicorn(env, log_path).start()
        ...
        redis_server.stop()      # SHUTDOWN NOSAVE: an outage, nothing kept
        redis_server.start()     # the same port again, empty

``ServerUnavailable`` means a binary is missing (redis-server, initdb): callers skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


class ServerUnavailable(RuntimeError):
    """A server binary this machine lacks (a developer's machine may skip, CI may not)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is truthy or ``timeout`` seconds pass; True if it was.
    A readiness poll with a deadline, never a timing assumption."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def spawn(command: list, env: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``command`` in this checkout, in a new process group, output to ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [str(part) for part in command],
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen | None, timeout: float = 20) -> None:
    """SIGTERM the process group of a process we spawned, SIGKILL it if it lingers."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


# -- Redis --------------------------------------------------------------------------------


class RedisServer:
    """``redis-server`` on a port of its own, without persistence: a restart is empty."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServerUnavailable("redis-server is not installed (apt-get install redis-server)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.workdir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 20) -> RedisServer:
        command = [
            self.binary,
            "--port", self.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.workdir, "--daemonize", "no",
        ]  # fmt: skip
        self.process = spawn(command, os.environ, self.log_path)
        if not wait_until(lambda: self.ping() or self.process.poll() is not None, timeout):
            raise RuntimeError(f"redis-server did not answer:\n{log_tail(self.log_path)}")
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{log_tail(self.log_path)}")
        return self

    def ping(self) -> bool:
        return self._command(b"PING").startswith(b"+PONG")

    def stop(self) -> None:
        """An outage: SHUTDOWN NOSAVE, then wait for the process and the port to go."""
        if self.process is None or self.process.poll() is not None:
            return
        self._command(b"SHUTDOWN NOSAVE")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _command(self, line: bytes) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(line + b"\r\n")
                return sock.recv(64)
        except OSError:
            return b""

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- PostgreSQL ---------------------------------------------------------------------------


def _postgres_bin(name: str) -> str | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else shutil.which(name)


class PostgresCluster:
    """A throwaway cluster (initdb) in a temporary directory, trust auth, on 127.0.0.1.

    PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres``
    OS user and its commands run through ``runuser``. The unix socket sits in a short
    directory of its own (a socket path is limited to about 100 bytes)."""

    def __init__(self, port: int | None = None):
        self.initdb = _postgres_bin("initdb")
        self.pg_ctl = _postgres_bin("pg_ctl")
        if self.initdb is None or self.pg_ctl is None:
            raise ServerUnavailable("PostgreSQL's initdb/pg_ctl are not installed")
        self.as_user: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable("running as root without a postgres OS user") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServerUnavailable("running as root without runuser")
            self.as_user = [runuser, "-u", "postgres", "--"]
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vhpg-"))
        if owner is not None:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self._initialised = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: object, timeout: float = 120) -> None:
        result = subprocess.run(
            [*self.as_user, *(str(part) for part in command)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(
                f"{Path(str(command[0])).name} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{log_tail(self.log_path)}"
            )

    def start(self) -> PostgresCluster:
        if not self._initialised:
            self._run(
                self.initdb, "-D", self.data, "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            self._initialised = True
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(self.pg_ctl, "-D", self.data, "-l", self.log_path, "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions are ended (what a restart for an upgrade does);
        ``immediate``: a crash."""
        if self.data.joinpath("postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


# -- the app's own processes ----------------------------------------------------------------

VENV_BIN = Path(sys.executable).parent


class Gunicorn:
    """``gunicorn --preload wsgi:app`` on a free port, as the README runs it in production;
    ``base_url`` once started."""

    def __init__(
        self, env: Mapping[str, str], log_path: Path, workers: int = 2, args: tuple[str, ...] = ()
    ):
        self.env = env
        self.log_path = Path(log_path)
        self.workers = workers
        self.args = args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Gunicorn:
        command = [
            VENV_BIN / "gunicorn", "-w", self.workers, "-b", f"127.0.0.1:{self.port}",
            "--timeout", "60", "--preload", *self.args, "wsgi:app",
        ]  # fmt: skip
        self.process = spawn(command, self.env, self.log_path)

        def answering() -> bool:
            if self.process.poll() is not None:
                return True
            # Every worker forked, not only the first that answers: a caller that notes
            # the workers (to tell one that died later) must see them all.
            if len(self.worker_pids()) < self.workers:
                return False
            try:
                return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(answering, timeout, 0.2) or self.process.poll() is not None:
            stop_group(self.process)
            raise RuntimeError(f"gunicorn did not start:\n{log_tail(self.log_path)}")
        return self

    def worker_pids(self) -> set[int]:
        """The master's children now: a worker that died and was replaced shows here."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            return {int(pid) for pid in children.read_text().split()}
        except (OSError, AttributeError):
            return set()

    def stop(self) -> None:
        stop_group(self.process, timeout=30)


class DramatiqWorker:
    """``dramatiq volunteer_hub.worker`` with the given processes and threads."""

    def __init__(
        self, env: Mapping[str, str], log_path: Path, processes: int = 1, threads: int = 2
    ):
        self.env = env
        self.log_path = Path(log_path)
        self.processes = processes
        self.threads = threads
        self.process: subprocess.Popen | None = None

    def start(self) -> DramatiqWorker:
        self.process = spawn(
            [VENV_BIN / "dramatiq", "volunteer_hub.worker",
             "-p", self.processes, "-t", self.threads],
            self.env,
            self.log_path,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        stop_group(self.process, timeout=30)
