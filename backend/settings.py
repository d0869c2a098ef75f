"""Settings read once from environment variables, with safe defaults for development."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

ENVIRONMENTS = ("development", "production", "test")


class SettingsError(RuntimeError):
    """The environment does not describe a usable configuration."""


@dataclass(frozen=True)
class Settings:
    environment: str
    database_url: str
    secret_key: str
    display_timezone: ZoneInfo
    login_attempts_per_minute: int
    session_max_age_seconds: int
    stale_after_hours: int
    cookie_secure: bool
    auto_migrate: bool
    hold_minutes: dict[str, float]
    """How long a hold keeps a bed, per urgency (immediate, within_24h, planned)."""
    response_minutes: dict[str, float]
    """How long a centre has to accept or refuse a hold, per urgency."""
    scheduler_enabled: bool
    scheduler_interval_seconds: float
    escalation_minutes: float
    """Default time each on-call level has to acknowledge before the next is paged."""
    reminder_minutes: float
    """Default time after which an acknowledged, unresolved alert is recalled."""
    webhook_timeout_seconds: float
    delivery_lease_seconds: float
    """How long a delivery being sent is reserved; after it, a crash is retried."""
    delivery_retry_base_seconds: float
    delivery_max_attempts: int
    vacancy_digest_time: str
    """Local time (HH:MM, display time zone) of the daily vacancy digest."""
    base_url: str
    """The app's address, used in links sent by e-mail and webhook."""
    keep_bed_hours: float
    """How long a runaway minor's bed is kept before the stay ends as not returned."""
    runaway_unresolved_hours: float
    """After this long without a return, a runaway is recorded as unresolved (once)."""
    hold_expiring_minutes: float
    """How long before a hold's expiry its coming end is recorded (once)."""
    retention_months: int = 24
    """Personal fields of a case closed longer ago than this are erased (statistics stay)."""

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith("postgres")


def _secret_key(environment: str) -> str:
    configured = os.environ.get("SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 characters long.")
        return configured
    if environment == "production":
        raise SettingsError("SECRET_KEY is required when APP_ENV=production.")
    # Development and tests: generate once and keep it, so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be an integer, got {raw!r}.") from error


def _positive(name: str, default: float, unit: str, maximum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number of {unit}, got {raw!r}.") from error
    if not 0 < value <= maximum:
        raise SettingsError(f"{name} must be more than 0 and at most {maximum:g} {unit}.")
    return value


WEEK_MINUTES = 7 * 24 * 60.0


def _clock_time(name: str, default: str) -> str:
    raw = os.environ.get(name) or default
    hours, _, minutes = raw.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise SettingsError(f"{name} must be a time of day as HH:MM, got {raw!r}.")
    return f"{int(hours):02d}:{int(minutes):02d}"


URGENCIES = ("immediate", "within_24h", "planned")
DEFAULT_HOLD_MINUTES = {"immediate": 120.0, "within_24h": 360.0, "planned": 1440.0}
DEFAULT_RESPONSE_MINUTES = {"immediate": 30.0, "within_24h": 120.0, "planned": 480.0}


def _per_urgency(prefix: str, defaults: dict[str, float]) -> dict[str, float]:
    return {
        u: _positive(f"{prefix}_{u.upper()}", defaults[u], "minutes", WEEK_MINUTES)
        for u in URGENCIES
    }


def load_settings() -> Settings:
    environment = os.environ.get("APP_ENV", "development")
    if environment not in ENVIRONMENTS:
        raise SettingsError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}.")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'safebed.sqlite'}"
    timezone_name = os.environ.get("DISPLAY_TIMEZONE", "Europe/Brussels")
    try:
        display_timezone = ZoneInfo(timezone_name)
    except Exception as error:
        raise SettingsError(
            f"DISPLAY_TIMEZONE {timezone_name!r} is not a known time zone."
        ) from error
    return Settings(
        environment=environment,
        database_url=database_url,
        secret_key=_secret_key(environment),
        display_timezone=display_timezone,
        login_attempts_per_minute=_int("LOGIN_ATTEMPTS_PER_MINUTE", 10),
        session_max_age_seconds=_int("SESSION_MAX_AGE_SECONDS", 12 * 3600),
        stale_after_hours=_int("STALE_AFTER_HOURS", 24),
        cookie_secure=os.environ.get("COOKIE_SECURE", "1" if environment == "production" else "0")
        == "1",
        auto_migrate=environment == "development",
        hold_minutes=_per_urgency("HOLD_MINUTES", DEFAULT_HOLD_MINUTES),
        response_minutes=_per_urgency("RESPONSE_MINUTES", DEFAULT_RESPONSE_MINUTES),
        scheduler_enabled=os.environ.get("SCHEDULER_ENABLED", "1") == "1",
        scheduler_interval_seconds=_positive("SCHEDULER_INTERVAL_SECONDS", 30.0, "seconds", 3600),
        escalation_minutes=_positive("ESCALATION_MINUTES", 10.0, "minutes", 24 * 60),
        reminder_minutes=_positive("REMINDER_MINUTES", 30.0, "minutes", WEEK_MINUTES),
        webhook_timeout_seconds=_positive("WEBHOOK_TIMEOUT_SECONDS", 5.0, "seconds", 60),
        delivery_lease_seconds=_positive("DELIVERY_LEASE_SECONDS", 60.0, "seconds", 3600),
        delivery_retry_base_seconds=_positive("DELIVERY_RETRY_BASE_SECONDS", 5.0, "seconds", 3600),
        delivery_max_attempts=int(_positive("DELIVERY_MAX_ATTEMPTS", 20, "attempts", 1000)),
        vacancy_digest_time=_clock_time("VACANCY_DIGEST_TIME", "07:00"),
        base_url=os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        keep_bed_hours=_positive("KEEP_BED_HOURS", 72.0, "hours", 24 * 30),
        runaway_unresolved_hours=_positive("RUNAWAY_UNRESOLVED_HOURS", 24.0, "hours", 24 * 30),
        hold_expiring_minutes=_positive("HOLD_EXPIRING_MINUTES", 30.0, "minutes", WEEK_MINUTES),
        retention_months=_retention_months(),
    )


def _retention_months() -> int:
    """Whole months, 1 to 120 (ten years): a typo must not erase every closed case."""
    raw = os.environ.get("RETENTION_MONTHS") or "24"
    if not raw.isdigit() or not 1 <= int(raw) <= 120:
        raise SettingsError(f"RETENTION_MONTHS must be a whole number from 1 to 120, got {raw!r}.")
    return int(raw)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
