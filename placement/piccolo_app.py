from piccolo.conf.apps import AppConfig, table_finder

from backend.settings import PROJECT_ROOT

APP_CONFIG = AppConfig(
    app_name="placement",
    migrations_folder_path=str(PROJECT_ROOT / "migrations" / "placement"),
    table_classes=table_finder(modules=["placement.tables"], exclude_imported=True),
    migration_dependencies=["backend.piccolo_app", "capacity.piccolo_app"],
    commands=[],
)
