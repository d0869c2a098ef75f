"""Piccolo configuration: the engine is chosen from DATABASE_URL (see backend.database)."""

from piccolo.conf.apps import AppRegistry

from backend.database import engine_from_url
from backend.settings import get_settings

DB = engine_from_url(get_settings().database_url)

APP_REGISTRY = AppRegistry(
    apps=[
        "backend.piccolo_app",
        "capacity.piccolo_app",
        "placement.piccolo_app",
        "notifications.piccolo_app",
    ]
)
