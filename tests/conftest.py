"""Test setup: a fresh database per run (SQLite file or a new PostgreSQL database), migrated
once, and reset before every test that asks for `db`.

TEST_ENGINE=sqlite (default) or postgres picks the engine; TEST_DATABASE_URL points at the
PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.support.postgres import create_database, drop_database, server_url

ENGINE = os.environ.get("TEST_ENGINE", "sqlite")
WORK_DIR = Path(tempfile.mkdtemp(prefix="safebed-tests-"))
SQLITE_PATH = WORK_DIR / "test.sqlite"
SQLITE_TEMPLATE = WORK_DIR / "template.sqlite"

if ENGINE == "postgres":
    DATABASE_NAME = f"safebed_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(create_database(DATABASE_NAME))
    os.environ["DATABASE_URL"] = server_url(DATABASE_NAME)
elif ENGINE == "sqlite":
    DATABASE_NAME = None
    os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_PATH}"
else:
    raise RuntimeError("TEST_ENGINE must be sqlite or postgres")

# Settings are read once at import: fix them before anything imports the app.
os.environ["APP_ENV"] = "test"
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 32)
os.environ.setdefault("LOGIN_ATTEMPTS_PER_MINUTE", "1000")


def pytest_report_header(config: pytest.Config) -> str:
    return f"database engine: {ENGINE} ({os.environ['DATABASE_URL'].split('@')[-1]})"


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_skipped_in_ci: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if IN_CI and report.skipped:
        _skipped_in_ci.append(report.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    if _skipped_in_ci:
        terminalreporter.write_line(
            "FAILED: tests skipped under CI=true: " + ", ".join(_skipped_in_ci), red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_in_ci:
        # In CI a skipped test (say, one needing PostgreSQL or the browser) is a failure.
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if DATABASE_NAME:
        asyncio.run(drop_database(DATABASE_NAME))
    shutil.rmtree(WORK_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
async def migrated():
    from backend.migrate import apply_migrations

    await apply_migrations()
    if ENGINE == "sqlite":
        shutil.copyfile(SQLITE_PATH, SQLITE_TEMPLATE)
        yield
        return
    from backend.database import get_engine

    engine = get_engine()
    await engine.start_connection_pool(max_size=10)
    yield
    await engine.close_connection_pool()


@pytest.fixture
async def db(migrated: None) -> None:
    """An empty, migrated database for this test."""
    if ENGINE == "sqlite":
        shutil.copyfile(SQLITE_TEMPLATE, SQLITE_PATH)
    else:
        from tests.support.postgres import truncate_all

        await truncate_all()


@pytest.fixture(scope="session")
def app():
    from backend.app import create_app

    return create_app()


@pytest.fixture
async def client(db: None, app):
    """An HTTP client talking to the app in this event loop (see docs/architecture.md)."""
    from tests.support.http import app_client

    async with app_client(app) as http:
        yield http


@pytest.fixture
async def world(db: None):
    """A small network: two centres with beds, and a user of each role."""
    from tests.support.world import build_world

    return await build_world()


@pytest.fixture(scope="session")
async def browser():
    """Headless Chromium (Debian's package): skipped where it is not installed, which CI
    counts as a failure."""
    from tests.support.browser import CHROMIUM, LAUNCH_ARGS

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (Debian package chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield chromium
        await chromium.close()
