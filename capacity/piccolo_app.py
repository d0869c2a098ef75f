from piccolo.conf.apps import AppConfig, table_finder

from backend.settings import PROJECT_ROOT

APP_CONFIG = AppConfig(
    app_name="capacity",
    migrations_folder_path=str(PROJECT_ROOT / "migrations" / "capacity"),
    table_classes=table_finder(modules=["capacity.tables"], exclude_imported=True),
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
