"""Opening a database: engine options per dialect and migrations to the newest schema."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.errors import StoreError
from bot.phone import mask_numbers

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x636F6C6C626F74  # pg advisory lock key: b"collbot"


def create_store_engine(url: str) -> Engine:
    """An engine for SQLite or PostgreSQL with the settings collbot relies on."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError("database.url is not a database URL") from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed)
        if backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            return create_engine(parsed, pool_pre_ping=True, json_serializer=dumps,
                                 connect_args={"connect_timeout": 10})
    except SQLAlchemyError as exc:  # e.g. the driver is not installed
        raise StoreError(f"cannot use {_shown(parsed)}: {reason(exc)}") from exc
    raise StoreError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Debtors' names and numbers: the file (and its -wal/-journal, which SQLite creates with the
            # main file's mode) is readable by its owner only.
            os.close(os.open(database, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot create the directory for {database}: {exc.strerror}") from exc
    engine = create_engine(url, json_serializer=dumps, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, see below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Take the write lock up front: a deferred transaction that reads and then writes
        # fails with "database is locked" when another process wrote in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (several processes may race to do it)."""
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
            config.set_main_option("path_separator", "os")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as exc:
        raise StoreError(f"cannot migrate {_shown(engine.url)}: {exc} "
                         "(was it created by a newer collbot?)") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open {_shown(engine.url)}: {reason(exc)}") from exc


def reason(exc: SQLAlchemyError) -> str:
    """The driver's first line, phone numbers masked (DETAIL lines echo row values)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return mask_numbers(text[0]) if text else type(exc).__name__


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def dumps(value: object) -> str:
    """JSON for the database: dates and decimals become strings rather than failing."""
    return _ENCODER.encode(value)


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


# What json.dumps(value, default=_json_default, ensure_ascii=False) makes afresh on every call
# (a third of the cost of the two JSON columns of each imported debtor); encode keeps no state.
_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False)
