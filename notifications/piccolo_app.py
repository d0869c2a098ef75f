from piccolo.conf.apps import AppConfig, table_finder

from backend.settings import PROJECT_ROOT

APP_CONFIG = AppConfig(
    app_name="notifications",
    migrations_folder_path=str(PROJECT_ROOT / "migrations" / "notifications"),
    table_classes=table_finder(modules=["notifications.tables"], exclude_imported=True),
    migration_dependencies=["backend.piccolo_app", "capacity.piccolo_app"],
    commands=[],
)
