"""Who is acting: roles and the signed-in principal. Plain data, no I/O, usable by every domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    PLACEMENT_OFFICER = "placement_officer"
    CENTRE_STAFF = "centre_staff"
    COORDINATOR = "coordinator"
    ANALYST = "analyst"


ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    language: str = "en"
    service: str = ""  # youth-aid service of an officer or coordinator
    centre_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def works_at(self, centre_id: int) -> bool:
        return self.role is Role.CENTRE_STAFF and centre_id in self.centre_ids
