"""Pages (added in the next commits)."""

from __future__ import annotations

HANDLERS: list = []
