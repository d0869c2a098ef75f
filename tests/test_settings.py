"""Settings from the environment, the engine chosen from DATABASE_URL, and migrations applied
on start in development."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from backend import settings as settings_module
from backend.database import engine_from_url, postgres_config
from backend.settings import SettingsError, load_settings
from tests.support.postgres import server_url
from tests.support.server import AppServer

SETTINGS_VARIABLES = (
    "APP_ENV",
    "DATABASE_URL",
    "SECRET_KEY",
    "DISPLAY_TIMEZONE",
    "STALE_AFTER_HOURS",
    "COOKIE_SECURE",
)


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    """No settings variable set, and `var/` redirected to a temporary folder."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "VAR_DIR", tmp_path)
    return tmp_path


def test_development_defaults(clean_environment):
    settings = load_settings()
    assert settings.environment == "development"
    # A SQLite file in the var folder (redirected here to a temporary one).
    assert settings.database_url == f"sqlite:///{clean_environment / 'safebed.sqlite'}"
    assert str(settings.display_timezone) == "Europe/Brussels"
    assert settings.stale_after_hours == 24
    assert settings.auto_migrate is True
    assert settings.cookie_secure is False


def test_development_secret_is_generated_once_and_kept(clean_environment):
    first = load_settings().secret_key
    assert len(first) >= 32
    key_file = clean_environment / "secret_key"
    assert key_file.read_text() == first
    assert key_file.stat().st_mode & 0o077 == 0
    assert load_settings().secret_key == first


def test_production_requires_a_secret_key(clean_environment, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(SettingsError, match="SECRET_KEY is required"):
        load_settings()
    assert not (clean_environment / "secret_key").exists()
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    settings = load_settings()
    assert settings.is_production and settings.cookie_secure and not settings.auto_migrate


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("APP_ENV", "staging", "APP_ENV must be one of"),
        ("DISPLAY_TIMEZONE", "Mars/Olympus", "not a known time zone"),
        ("STALE_AFTER_HOURS", "a day", "STALE_AFTER_HOURS must be an integer"),
    ],
)
def test_bad_settings_are_named(clean_environment, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_engine_is_chosen_from_the_database_url(tmp_path):
    sqlite = engine_from_url(f"sqlite:///{tmp_path}/sub/app.sqlite")
    assert isinstance(sqlite, SQLiteEngine)
    assert (tmp_path / "sub").is_dir()
    assert postgres_config("postgresql://app:s%40cret@db.example:5433/beds") == {
        "host": "db.example",
        "port": 5433,
        "database": "beds",
        "user": "app",
        "password": "s@cret",
    }
    # Building the engine asks the server its version: use the test server, nothing remote.
    assert isinstance(engine_from_url(server_url()), PostgresEngine)
    with pytest.raises(ValueError, match="DATABASE_URL must start with"):
        engine_from_url("mysql://localhost/beds")


def test_development_start_applies_the_migrations(tmp_path):
    database = tmp_path / "fresh.sqlite"
    env = {"APP_ENV": "development", "DATABASE_URL": f"sqlite:///{database}"}
    with AppServer(env=env) as server:
        # An empty database was migrated at start: sign-in finds the user table (401, not 500).
        response = httpx.post(
            f"{server.url}/api/auth/login",
            json={"username": "nobody", "password": "not-a-password"},
        )
        assert response.status_code == 401, response.text
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"app_user", "centre", "unit", "bed", "occupancy_event"} <= tables
