"""The migrations build exactly the tables the code declares, on SQLite and on PostgreSQL.

Two checks, run on each engine (the suite runs once per engine):
- the database the migrations produced, read back from the engine's own catalogue, holds every
  table of every app in piccolo_conf with exactly its columns (name, nullability, type family),
  primary key, foreign keys, unique and indexed columns, and no other table than Piccolo's
  `migration` bookkeeping;
- the migrations are complete: the diff `piccolo migrations new --auto` would write is empty.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.columns import Array, Column, ForeignKey
from piccolo.conf.apps import AppConfig, Finder
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString
from piccolo.table import Table

PICCOLO_OWN_TABLES = {"migration"}

# Type names, as Piccolo declares them or as a catalogue reports them, grouped by family.
TYPE_FAMILIES = {
    "integer": {"INTEGER", "INT", "INT4", "SERIAL"},
    "bigint": {"BIGINT", "INT8", "BIGSERIAL"},
    "smallint": {"SMALLINT", "INT2", "SMALLSERIAL"},
    "varchar": {"VARCHAR", "CHARACTER VARYING"},
    "text": {"TEXT"},
    "boolean": {"BOOLEAN", "BOOL"},
    "real": {"REAL", "FLOAT4"},
    "double": {"DOUBLE PRECISION", "FLOAT8"},
    "numeric": {"NUMERIC", "DECIMAL"},
    "date": {"DATE"},
    "time": {"TIME", "TIME WITHOUT TIME ZONE"},
    "timestamp": {"TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"},
    "timestamptz": {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"},
    "interval": {"INTERVAL"},
    "uuid": {"UUID"},
    "json": {"JSON"},
    "jsonb": {"JSONB"},
    "bytea": {"BYTEA", "BLOB"},
}
_FAMILY_OF = {name: family for family, names in TYPE_FAMILIES.items() for name in names}


def type_family(type_name: str) -> str:
    """'VARCHAR(80)' and 'character varying' are both 'varchar'; 'VARCHAR(40)[]' is
    'varchar[]'; a name we do not know stays itself, so it is still compared."""
    name = type_name.strip().upper()
    if name.endswith("[]"):
        return type_family(name[:-2]) + "[]"
    name = re.sub(r"\s*\(.*?\)", "", name).strip()
    return _FAMILY_OF.get(name, name.lower())


@dataclass(frozen=True)
class ColumnShape:
    family: str
    nullable: bool

    def __str__(self) -> str:
        return f"{self.family} {'NULL' if self.nullable else 'NOT NULL'}"


@dataclass
class TableShape:
    columns: dict[str, ColumnShape]
    primary_key: set[str]
    foreign_keys: dict[str, str]
    """column -> referenced table"""
    unique: set[str]
    """columns with a single-column unique index or constraint (primary key excluded)"""
    indexed: set[str]
    """columns that lead some index"""


# ---------------------------------------------------------------------------
# What the code declares


def app_configs() -> list[AppConfig]:
    return list(Finder().get_app_registry().app_configs.values())


def declared_tables() -> dict[str, type[Table]]:
    tables: dict[str, type[Table]] = {}
    for app in app_configs():
        for table in app.table_classes:
            assert table._meta.tablename not in tables, f"two tables named {table._meta.tablename}"
            tables[table._meta.tablename] = table
    return tables


def declared_family(column: Column, engine: Engine) -> str:
    if isinstance(column, Array) and isinstance(engine, SQLiteEngine):
        return "array"  # Piccolo stores arrays as text declared ARRAY on SQLite
    return type_family(column.column_type)


def declared_shape(table: type[Table], engine: Engine) -> TableShape:
    columns = table._meta.columns
    primary_key = table._meta.primary_key._meta.db_column_name
    return TableShape(
        columns={
            c._meta.db_column_name: ColumnShape(
                family=declared_family(c, engine),
                nullable=c._meta.null and c._meta.db_column_name != primary_key,
            )
            for c in columns
        },
        primary_key={primary_key},
        foreign_keys={
            c._meta.db_column_name: c._foreign_key_meta.resolved_references._meta.tablename
            for c in columns
            if isinstance(c, ForeignKey)
        },
        unique={
            c._meta.db_column_name
            for c in columns
            if c._meta.unique and c._meta.db_column_name != primary_key
        },
        indexed={c._meta.db_column_name for c in columns if c._meta.index},
    )


# ---------------------------------------------------------------------------
# What the database holds


async def query(engine: Engine, sql: str, *args: object) -> list[dict]:
    return await engine.run_querystring(QueryString(sql, *args)) or []


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def sqlite_tables(engine: Engine) -> set[str]:
    rows = await query(
        engine, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {row["name"] for row in rows}


async def sqlite_shape(engine: Engine, table: str) -> TableShape:
    info = await query(engine, f"PRAGMA table_info({quoted(table)})")
    foreign = await query(engine, f"PRAGMA foreign_key_list({quoted(table)})")
    unique: set[str] = set()
    indexed: set[str] = set()
    for index in await query(engine, f"PRAGMA index_list({quoted(table)})"):
        if index["origin"] == "pk":
            continue
        members = await query(engine, f"PRAGMA index_info({quoted(index['name'])})")
        names = [m["name"] for m in sorted(members, key=lambda m: m["seqno"])]
        if names:
            indexed.add(names[0])
        if index["unique"] and len(names) == 1:
            unique.add(names[0])
    return TableShape(
        columns={
            # An INTEGER PRIMARY KEY is the rowid: never null, though not declared NOT NULL.
            row["name"]: ColumnShape(
                family=type_family(row["type"]),
                nullable=not row["notnull"] and not row["pk"],
            )
            for row in info
        },
        primary_key={row["name"] for row in info if row["pk"]},
        foreign_keys={row["from"]: row["table"] for row in foreign},
        unique=unique,
        indexed=indexed,
    )


async def postgres_tables(engine: Engine) -> set[str]:
    rows = await query(
        engine,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    return {row["table_name"] for row in rows}


async def postgres_shape(engine: Engine, table: str) -> TableShape:
    columns = await query(
        engine,
        "SELECT column_name, is_nullable, data_type, udt_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = {}",
        table,
    )
    constraints = await query(
        engine,
        """
        SELECT c.contype::text AS kind, a.attname AS column_name,
               c.confrelid::regclass::text AS referenced, cardinality(c.conkey) AS width
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.conrelid = to_regclass({}) AND c.contype IN ('p', 'f', 'u')
        """,
        quoted(table),
    )
    indexes = await query(
        engine,
        """
        SELECT a.attname AS column_name, i.indisunique AS is_unique,
               i.indisprimary AS is_primary, i.indnatts AS width
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = to_regclass({})
        """,
        quoted(table),
    )

    def family(row: dict) -> str:
        if row["data_type"] == "ARRAY":
            return type_family(row["udt_name"].removeprefix("_")) + "[]"
        return type_family(row["data_type"])

    return TableShape(
        columns={
            row["column_name"]: ColumnShape(
                family=family(row), nullable=row["is_nullable"] == "YES"
            )
            for row in columns
        },
        primary_key={row["column_name"] for row in constraints if row["kind"] == "p"},
        foreign_keys={
            row["column_name"]: row["referenced"].strip('"')
            for row in constraints
            if row["kind"] == "f"
        },
        unique={
            row["column_name"] for row in constraints if row["kind"] == "u" and row["width"] == 1
        }
        | {
            row["column_name"]
            for row in indexes
            if row["is_unique"] and not row["is_primary"] and row["width"] == 1
        },
        indexed={row["column_name"] for row in indexes if not row["is_primary"]},
    )


async def database_tables(engine: Engine) -> set[str]:
    if isinstance(engine, SQLiteEngine):
        return await sqlite_tables(engine)
    return await postgres_tables(engine)


async def database_shape(engine: Engine, table: str) -> TableShape:
    if isinstance(engine, SQLiteEngine):
        return await sqlite_shape(engine, table)
    return await postgres_shape(engine, table)


def differences(table: str, declared: TableShape, actual: TableShape) -> list[str]:
    found = []
    for name in sorted(declared.columns.keys() - actual.columns.keys()):
        found.append(f"{table}.{name}: declared ({declared.columns[name]}) but missing")
    for name in sorted(actual.columns.keys() - declared.columns.keys()):
        found.append(f"{table}.{name}: in the database ({actual.columns[name]}) but not declared")
    for name in sorted(declared.columns.keys() & actual.columns.keys()):
        if declared.columns[name] != actual.columns[name]:
            found.append(
                f"{table}.{name}: declared {declared.columns[name]}, "
                f"database has {actual.columns[name]}"
            )
    if declared.primary_key != actual.primary_key:
        found.append(
            f"{table}: primary key {sorted(declared.primary_key)} declared, "
            f"database has {sorted(actual.primary_key)}"
        )
    if declared.foreign_keys != actual.foreign_keys:
        found.append(
            f"{table}: foreign keys {declared.foreign_keys} declared, "
            f"database has {actual.foreign_keys}"
        )
    if declared.unique != actual.unique:
        found.append(
            f"{table}: unique columns {sorted(declared.unique)} declared, "
            f"database has {sorted(actual.unique)}"
        )
    if missing := declared.indexed - actual.indexed:
        found.append(f"{table}: indexes declared on {sorted(missing)} are missing")
    return found


# ---------------------------------------------------------------------------
# Tests


@pytest.fixture
def engine(migrated: None) -> Engine:
    from backend.database import get_engine

    return get_engine()


@pytest.mark.pure
def test_type_families() -> None:
    assert type_family("VARCHAR(80)") == type_family("character varying") == "varchar"
    assert type_family("TIMESTAMPTZ") == type_family("timestamp with time zone")
    assert type_family("SERIAL") == type_family("integer")
    assert type_family("VARCHAR(40)[]") == "varchar[]"
    assert type_family("geometry") == "geometry"


@pytest.mark.pure
def test_every_app_declares_tables() -> None:
    apps = {app.app_name: app.table_classes for app in app_configs()}
    assert {"backend", "capacity"} <= apps.keys()
    assert all(apps.values()), apps


async def test_database_holds_exactly_the_declared_tables(engine: Engine) -> None:
    declared = declared_tables()
    actual = await database_tables(engine)
    assert actual - PICCOLO_OWN_TABLES == declared.keys(), (
        f"missing: {sorted(declared.keys() - actual)}; "
        f"not declared: {sorted(actual - declared.keys() - PICCOLO_OWN_TABLES)}"
    )
    assert actual >= PICCOLO_OWN_TABLES


async def test_every_table_has_exactly_its_declared_columns(engine: Engine) -> None:
    found: list[str] = []
    for name, table in sorted(declared_tables().items()):
        found += differences(
            name, declared_shape(table, engine), await database_shape(engine, name)
        )
    assert not found, "The migrated database does not match the tables:\n" + "\n".join(found)


@pytest.mark.pure
async def test_migrations_are_complete() -> None:
    """What `piccolo migrations new all --auto` would write, computed without writing it."""
    pending: dict[str, list[str]] = {}
    for app in app_configs():
        output = io.StringIO()
        with contextlib.redirect_stdout(output):  # the differ prints a summary table
            alterations = await AutoMigrationManager(auto_input="n").get_alter_statements(
                app_config=app
            )
        statements = [statement for alter in alterations for statement in alter.statements]
        if statements:
            pending[app.app_name] = statements
    assert not pending, (
        "The table classes changed since the last migration; run "
        "`piccolo migrations new <app> --auto`. Missing operations:\n"
        + "\n".join(f"[{app}]\n" + "\n".join(s) for app, s in pending.items())
    )
