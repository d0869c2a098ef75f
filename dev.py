#!/usr/bin/env python3
"""Bootstrap with nothing but Python 3.11+: creates .venv, installs the project, then

    python3 dev.py start    migrate, load the demo data, serve on http://127.0.0.1:8000
    python3 dev.py test     lint, then the whole test suite on SQLite and on PostgreSQL

Extra arguments after `test` go to pytest (e.g. `python3 dev.py test -k vacancies`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".safebed-installed"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT, env={**os.environ, **(env or {})})


def ensure_environment(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (this file must run on older Pythons to say so)
        sys.exit("Python 3.11 or newer is needed.")
    if not PYTHON.exists():
        say("Creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    project = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    installed = STAMP.read_text().split() if STAMP.exists() else []
    # The stamp holds the pyproject digest, then the extras installed with it.
    if installed[:1] == [project] and (not extra or extra in installed[1:]):
        return
    say(f"Installing the project and its dependencies ({extra or 'runtime'})")
    target = f".[{extra}]" if extra else "."
    if run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip") != 0:
        sys.exit("Could not upgrade pip.")
    if run(PYTHON, "-m", "pip", "install", "--quiet", "-e", target) != 0:
        sys.exit("Installing the project failed.")
    extras = installed[1:] if installed[:1] == [project] else []
    STAMP.write_text(" ".join([project, *sorted({*extras, extra} - {""})]))


def postgres_reachable() -> bool:
    probe = (
        "import asyncio, tests.support.postgres as p;"
        "raise SystemExit(0 if asyncio.run(p.reachable()) else 1)"
    )
    return run(PYTHON, "-c", probe) == 0


def start(args: list[str]) -> int:
    ensure_environment("")
    return run(BIN / "safebed", "serve", "--demo", *args)


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium(in_ci: bool) -> bool:
    """The browser tests drive Debian's Chromium. CI installs it; elsewhere they are skipped
    (with a warning) when it is missing."""
    if CHROMIUM.exists():
        return True
    if not in_ci:
        say(
            "WARNING: /usr/bin/chromium is missing: the browser tests will be skipped "
            "(install Debian's chromium package to run them)."
        )
        return False
    say("Installing Chromium for the browser tests (Debian package chromium)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if run(*sudo, "apt-get", "update", "-q", env=env) != 0:
        sys.exit("apt-get update failed: Chromium cannot be installed.")
    if run(*sudo, "apt-get", "install", "-y", "-q", "chromium", env=env) != 0:
        sys.exit("Installing Chromium failed.")
    return CHROMIUM.exists()


def test(args: list[str]) -> int:
    ensure_environment("test")
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    ensure_chromium(in_ci)
    say("Lint: ruff check and ruff format --check")
    if run(BIN / "ruff", "check", ".") != 0 or run(BIN / "ruff", "format", "--check", ".") != 0:
        return 1
    say("Tests on SQLite")
    if run(PYTHON, "-m", "pytest", *args, env={"TEST_ENGINE": "sqlite"}) != 0:
        return 1
    if not postgres_reachable():
        message = "PostgreSQL is not reachable (TEST_DATABASE_URL): its run was SKIPPED"
        if in_ci:
            say(f"FAILED: {message}, which CI does not allow.")
            return 1
        say(f"WARNING: {message}.")
        return 0
    say("Tests on PostgreSQL")
    return run(PYTHON, "-m", "pytest", *args, env={"TEST_ENGINE": "postgres"})


def main() -> int:
    commands = {"start": start, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
