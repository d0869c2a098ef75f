"""`safebed create-admin`: the first administrator, made from the command line.

The command runs in its own process, as an operator runs it: settings are read once per
process, so this is also the only honest way to point it at another database.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from backend.passwords import verify_password
from backend.settings import PROJECT_ROOT
from tests.support.signin import sign_in

PASSWORD = "first-admin-password"


def safebed(
    *args: str, database_url: str, env: str, stdin: str = ""
) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("safebed")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "backend"]
    environment = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": env}
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
        timeout=120,
    )


def test_create_admin_on_a_new_database_asks_for_the_password(tmp_path):
    database = tmp_path / "new.sqlite"
    result = safebed(
        "create-admin",
        database_url=f"sqlite:///{database}",
        env="development",
        stdin=f"chief\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.returncode == 0, result.stderr
    assert "Administrator 'chief' created." in result.stdout
    assert PASSWORD not in result.stdout

    # The command migrated the empty database itself and stored a hash, never the password.
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT username, role, active, password_hash FROM app_user"
        ).fetchall()
    assert len(rows) == 1
    username, role, active, password_hash = rows[0]
    assert (username, role, bool(active)) == ("chief", "admin", True)
    assert password_hash.startswith("$argon2id$")
    assert verify_password(password_hash, PASSWORD)
    assert not verify_password(password_hash, "first-admin-passworD")


def test_a_mistyped_confirmation_creates_nobody(tmp_path):
    database = tmp_path / "new.sqlite"
    result = safebed(
        "create-admin",
        database_url=f"sqlite:///{database}",
        env="development",
        stdin=f"chief\n{PASSWORD}\nsomething-else-entirely\n",
    )
    assert result.returncode != 0
    assert "do not match" in result.stderr + result.stdout
    assert not database.exists()  # asked again, then gave up before touching any database


async def test_the_created_admin_signs_in_and_administers(client):
    """Against the suite's own database (SQLite or PostgreSQL), then through the API."""
    result = safebed(
        "create-admin",
        "--username",
        "chief",
        "--display-name",
        "Cheffe de service",
        "--password",
        PASSWORD,
        "--language",
        "fr",
        database_url=os.environ["DATABASE_URL"],
        env="test",
    )
    assert result.returncode == 0, result.stderr

    response = await sign_in(client, "chief", PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    assert response.json()["display_name"] == "Cheffe de service"
    assert response.json()["language"] == "fr"
    users = await client.get("/api/users")
    assert users.status_code == 200
    assert [user["username"] for user in users.json()] == ["chief"]

    # A second admin with the same name is refused, and says why.
    again = safebed(
        "create-admin",
        "--username",
        "chief",
        "--password",
        "another-password-1",
        database_url=os.environ["DATABASE_URL"],
        env="test",
    )
    assert again.returncode == 1
    assert "Not created" in again.stderr and "taken" in again.stderr
    assert (await sign_in(client, "chief", PASSWORD)).status_code == 200


def test_a_short_password_is_refused(tmp_path):
    database = tmp_path / "new.sqlite"
    result = safebed(
        "create-admin",
        "--username",
        "chief",
        "--password",
        "short",
        database_url=f"sqlite:///{database}",
        env="development",
    )
    assert result.returncode == 1
    assert "Not created" in result.stderr
    assert "password" in result.stderr
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM app_user").fetchone() == (0,)
