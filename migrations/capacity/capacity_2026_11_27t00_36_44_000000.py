"""Every insert, update or delete of a centre, unit or bed gives capacity_version a new
random stamp, so a process can tell whether what it derived from them is still current.

The stamp is random rather than a counter: a counter could come back to a value a process
has seen before (after the table was emptied), a 63-bit random value practically cannot.

On PostgreSQL the trigger runs BEFORE each statement, so a transaction takes the stamp row's
lock before any row lock of its first statement on these tables: two transactions cannot
each hold a bed the other wants while waiting for the stamp (a deadlock), because whoever
waits for the stamp holds no bed yet.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-27T00:36:44:000000"
VERSION = "1.38.0"
DESCRIPTION = "capacity_version stamp follows every change of centres, units and beds"

TABLES = ("centre", "unit", "bed")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")

SQLITE_BUMP = (
    "INSERT INTO capacity_version (id, stamp) VALUES (1, abs(random())) "
    "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;"
)


def _sqlite_statements() -> list[str]:
    return [
        f"CREATE TRIGGER {table}_{operation.lower()}_stamps_capacity AFTER {operation} "
        f"ON {table} BEGIN {SQLITE_BUMP} END"
        for table in TABLES
        for operation in OPERATIONS
    ]


POSTGRES_STATEMENTS = [
    """
    CREATE FUNCTION stamp_capacity_version() RETURNS trigger AS $$
    BEGIN
      INSERT INTO capacity_version (id, stamp)
      VALUES (1, floor(random() * 9.2e18)::bigint)
      ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;
      RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    *[
        f"CREATE TRIGGER {table}_stamps_capacity BEFORE INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION stamp_capacity_version()"
        for table in TABLES
    ],
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="capacity", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        sqlite = isinstance(engine, SQLiteEngine)
        for statement in _sqlite_statements() if sqlite else POSTGRES_STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
