"""Apply the Piccolo migrations of every app, in dependency order."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards


class MigrationError(RuntimeError):
    pass


async def apply_migrations(quiet: bool = True) -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output) if quiet else contextlib.nullcontext():
        result = await run_forwards(app_name="all")
    if not result.success:
        raise MigrationError(f"Migrations failed: {result.message}\n{output.getvalue()}")
