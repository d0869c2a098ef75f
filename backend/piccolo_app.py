from piccolo.conf.apps import AppConfig, table_finder

from backend.settings import PROJECT_ROOT

APP_CONFIG = AppConfig(
    app_name="backend",
    migrations_folder_path=str(PROJECT_ROOT / "migrations" / "backend"),
    table_classes=table_finder(modules=["backend.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
