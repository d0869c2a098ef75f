"""Flags and request histories stay append-only, with one exception: the retention purge may
blank their free-text fields (a flag's note and source service, an event's reason). Any other
change, and every delete, is still refused by the database."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-27T03:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "flags and request events: only erasure of free text may update them"

# table -> (the free-text columns the purge blanks, every other column, which must not change)
ERASABLE = {
    "case_flag": (
        ("note", "source_service"),
        (
            "id",
            '"case"',
            "exploitation_type",
            "status",
            "discovered_on",
            "supersedes",
            "added_by",
            "added_at",
        ),
    ),
    "request_event": (
        ("reason",),
        ("id", "request", "at", "actor", "action", "from_status", "to_status", "detail"),
    ),
}


def _sqlite_statements(table: str, erased: tuple[str, ...], kept: tuple[str, ...]) -> list[str]:
    message = f"{table} is append-only"
    erasure = " AND ".join(
        [f"NEW.{column} = ''" for column in erased] + [f"NEW.{c} IS OLD.{c}" for c in kept]
    )
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} WHEN NOT ({erasure}) "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
    ]


def _postgres_statements(table: str, erased: tuple[str, ...], kept: tuple[str, ...]) -> list[str]:
    # JSON has no equality operator in PostgreSQL: compare its text.
    def same(column: str) -> str:
        cast = "::text" if column == "detail" else ""
        return f"NEW.{column}{cast} IS NOT DISTINCT FROM OLD.{column}{cast}"

    erasure = " AND ".join([f"NEW.{column} = ''" for column in erased] + [same(c) for c in kept])
    return [
        f"""
        CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND {erasure} THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{table} is append-only';
        END;
        $$ LANGUAGE plpgsql
        """,
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="placement", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        statements = (
            _sqlite_statements if isinstance(engine, SQLiteEngine) else _postgres_statements
        )
        for table, (erased, kept) in ERASABLE.items():
            for statement in statements(table, erased, kept):
                await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
