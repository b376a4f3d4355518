"""Shared fixtures. Keep each one small and documented; add new ones in their own section."""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# --- Databases: SQLite always, PostgreSQL when its server binaries are installed -----------


@dataclass(frozen=True)
class PostgresServer:
    """A throwaway PostgreSQL cluster on a loopback port; ``url(db)`` names one database."""

    port: int
    password: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://collbot:{self.password}@127.0.0.1:{self.port}/{database}"


def _initdb() -> Path | None:
    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path))

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return Path(found[-1]) if found else None


def _as_cluster_owner(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the 'postgres' user then."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *argv]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_quote, argv))]


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a private cluster for the test session (skips when PostgreSQL is not installed)."""
    initdb = _initdb()
    if initdb is None:
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); "
                    "install the postgresql package to run the PostgreSQL tests")
    bindir = initdb.parent
    as_root = os.geteuid() == 0
    # Not under pytest's tmp_path: its parents are private to root, and the cluster owner
    # must be able to reach the directory.
    base = Path(tempfile.mkdtemp(prefix="collbot-pg-", dir="/tmp" if as_root else None))
    data, log, pwfile = base / "data", base / "server.log", base / "pw"
    password = secrets.token_hex(16)
    pwfile.write_text(password + "\n")
    if as_root:
        owner = pwd.getpwnam("postgres")
        for path in (base, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def run(*argv: str, timeout: float = 120) -> None:
        done = subprocess.run(_as_cluster_owner(list(argv)), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{argv[0]} failed: {done.stderr.strip()}\n{tail}", pytrace=False)

    started = False
    try:
        run(str(initdb), "-D", str(data), "-U", "collbot", "--pwfile", str(pwfile),
            "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
            "-w", "-t", "60", "start")
        started = True
        yield PostgresServer(port=port, password=password)
    finally:
        try:
            if started:
                run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's cluster, dropped after the test."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    with psycopg.connect(postgres_server.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each supported kind (the SQLite file's directory does not exist yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'collbot.db'}"
    return str(request.getfixturevalue("postgres_url"))


# --- One sandbox per pytest-xdist worker (tests/sandboxes.py) ------------------------------


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the Asterisk of a worker's private sandbox (gw1...); the configured one stays up."""
    from tests.sandboxes import BASE_CACHE, worker_index

    if worker_index() and BASE_CACHE in os.environ:
        from bot.config import load_settings
        from bot.telephony.sandbox import Sandbox

        Sandbox(load_settings(None)).down()
