"""Server-rendered pages and their static assets (our own; never from a third-party host)."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
