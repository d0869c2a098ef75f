"""Centre coordinates in double precision.

PostgreSQL's `real` is a 4-byte float: 50.63 came back as 50.630001068115234. SQLite's REAL
is already an 8-byte double and its column types are only affinities (it has no ALTER
COLUMN), so there the change is recorded for the schema snapshot and nothing is run.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import DoublePrecision, Real
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T21:32:49:735519"
VERSION = "1.38.0"
DESCRIPTION = "centre coordinates in double precision"


class _Manager(MigrationManager):
    async def _run_alter_columns(self, backwards: bool = False):
        if isinstance(engine_finder(), SQLiteEngine):
            return
        await super()._run_alter_columns(backwards=backwards)


async def forwards():
    manager = _Manager(migration_id=ID, app_name="capacity", description=DESCRIPTION)
    for name in ("latitude", "longitude"):
        manager.alter_column(
            table_class_name="Centre",
            tablename="centre",
            column_name=name,
            db_column_name=name,
            params={},
            old_params={},
            column_class=DoublePrecision,
            old_column_class=Real,
            schema=None,
        )
    return manager
