"""Command line: `safebed migrate | create-admin | demo | retention | serve`."""

from __future__ import annotations

import asyncio
import sys

import click


def _run(coroutine):
    return asyncio.run(coroutine)


@click.group()
def main() -> None:
    """safebed: find a safe bed for a minor, fast."""


@main.command()
def migrate() -> None:
    """Apply every database migration (safe to run again)."""
    from backend.migrate import apply_migrations

    _run(apply_migrations(quiet=False))
    click.echo("Migrations applied.")


@main.command("create-admin")
@click.option("--username", prompt=True)
@click.option("--display-name", default="Administrator", show_default=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="10 characters or more",
)
@click.option("--language", default="en", type=click.Choice(["fr", "nl", "de", "en"]))
def create_admin(username: str, display_name: str, password: str, language: str) -> None:
    """Create the first administrator account."""
    import msgspec

    from backend import accounts
    from backend.errors import DomainError
    from backend.identity import Role
    from backend.migrate import apply_migrations
    from backend.schemas import UserCreate

    async def create() -> None:
        await apply_migrations()
        data = msgspec.convert(
            {
                "username": username,
                "display_name": display_name,
                "role": Role.ADMIN.value,
                "password": password,
                "language": language,
            },
            UserCreate,
        )
        await accounts.create_user(data)

    try:
        _run(create())
    except (DomainError, msgspec.ValidationError) as error:
        click.echo(f"Not created: {error}", err=True)
        sys.exit(1)
    click.echo(f"Administrator {username!r} created.")


@main.command()
@click.option(
    "--reset",
    is_flag=True,
    help="Erase the whole database (users too), then load. Development only: refused when "
    "APP_ENV=production.",
)
def demo(reset: bool) -> None:
    """Load the invented demo network (Belgian centres, Esperanto's 20 beds, demo users)."""
    from backend.demo import DemoRefused, load_demo
    from backend.migrate import apply_migrations

    async def load() -> str:
        await apply_migrations()
        return await load_demo(reset=reset)

    try:
        click.echo(_run(load()))
    except DemoRefused as error:
        click.echo(f"Not loaded: {error}", err=True)
        sys.exit(1)


@main.command()
@click.option("--dry-run", is_flag=True, help="Only list the cases that would be erased.")
def retention(dry_run: bool) -> None:
    """Erase the personal fields of cases closed more than RETENTION_MONTHS ago."""
    from backend.migrate import apply_migrations
    from backend.settings import get_settings
    from placement import retention as retention_service

    async def run() -> list:
        await apply_migrations()
        return await retention_service.purge(dry_run=dry_run)

    settings = get_settings()
    months = settings.retention_months
    cases = _run(run())
    verb = "would be erased" if dry_run else "erased"
    click.echo(f"{len(cases)} case(s) closed more than {months} months ago {verb}.")
    for case in cases:
        closed = case.closed_at.astimezone(settings.display_timezone).date().isoformat()
        click.echo(f"{case.case_code}\tclosed {closed}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", "with_demo", is_flag=True, help="Load the demo data first if empty.")
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, with_demo: bool, workers: int) -> None:
    """Serve the app with uvicorn."""
    import uvicorn

    from backend.migrate import apply_migrations
    from backend.settings import get_settings

    settings = get_settings()
    if settings.auto_migrate or with_demo:
        _run(apply_migrations())
    if with_demo:
        from backend.demo import load_demo

        click.echo(_run(load_demo(reset=False)))
    click.echo(
        f"Serving on http://{host}:{port}  (sign in at http://{host}:{port}/ ; "
        f"API docs: http://{host}:{port}/schema)"
    )
    uvicorn.run(
        "backend.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        # Access lines carry request paths, and paths carry case codes: no personal data in logs.
        access_log=False,
        log_level="info",
        # Live pages and alert streams stay open: do not wait for them to end on shutdown.
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
