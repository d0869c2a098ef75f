"""Follow-up flags and request histories are never edited or deleted, only added to."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T23:38:38:000000"
VERSION = "1.38.0"
DESCRIPTION = "flags and request events are append-only"

TABLES = ("case_flag", "request_event")


def _sqlite_statements(table: str) -> list[str]:
    message = f"{table} is append-only"
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
    ]


def _postgres_statements(table: str) -> list[str]:
    return [
        f"""
        CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION '{table} is append-only'; END;
        $$ LANGUAGE plpgsql
        """,
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="placement", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        statements = (
            _sqlite_statements if isinstance(engine, SQLiteEngine) else _postgres_statements
        )
        for table in TABLES:
            for statement in statements(table):
                await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
