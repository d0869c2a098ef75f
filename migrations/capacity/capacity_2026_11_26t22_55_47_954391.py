"""Occupancy events are evidence: the database itself refuses to edit or delete them.

The only delete allowed is of a bed's creation event while it is the bed's only event,
so that a bed created by mistake and never used can be removed with its creation record.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T22:55:47:954391"
VERSION = "1.38.0"
DESCRIPTION = "occupancy events are append-only"

MESSAGE = "occupancy events are append-only"

SQLITE_STATEMENTS = [
    f"""
    CREATE TRIGGER occupancy_event_no_update BEFORE UPDATE ON occupancy_event
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
    """,
    f"""
    CREATE TRIGGER occupancy_event_no_delete BEFORE DELETE ON occupancy_event
    WHEN OLD.from_status IS NOT NULL
      OR (SELECT count(*) FROM occupancy_event WHERE bed = OLD.bed) > 1
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
    """,
]

POSTGRES_STATEMENTS = [
    f"""
    CREATE FUNCTION occupancy_event_append_only() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND OLD.from_status IS NULL
         AND (SELECT count(*) FROM occupancy_event WHERE bed = OLD.bed) = 1 THEN
        RETURN OLD;
      END IF;
      RAISE EXCEPTION '{MESSAGE}';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER occupancy_event_append_only
    BEFORE UPDATE OR DELETE ON occupancy_event
    FOR EACH ROW EXECUTE FUNCTION occupancy_event_append_only()
    """,
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="capacity", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        sqlite = isinstance(engine, SQLiteEngine)
        for statement in SQLITE_STATEMENTS if sqlite else POSTGRES_STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
