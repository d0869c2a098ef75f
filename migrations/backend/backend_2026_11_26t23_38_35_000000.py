"""The audit log is evidence: the database itself refuses to edit or delete it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T23:38:35:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit log is append-only"

TABLES = ("audit_entry",)


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
    manager = MigrationManager(migration_id=ID, app_name="backend", description=DESCRIPTION)

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
