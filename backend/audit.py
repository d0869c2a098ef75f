"""The audit log of youth cases: who read or changed which case, and when.

Written inside the caller's transaction, so a change and its audit entry stand or fall
together. The table is append-only (database triggers).
"""

from __future__ import annotations

from backend.identity import Principal
from backend.tables import AuditEntry
from backend.timeutil import utcnow


async def record(
    principal: Principal | None, case_code: str, action: str, detail: str = ""
) -> None:
    await record_many(principal, [case_code], action, detail)


async def record_many(
    principal: Principal | None, case_codes: list[str], action: str, detail: str = ""
) -> None:
    """One entry per case (a list read is a read of every case listed)."""
    if not case_codes:
        return
    now = utcnow()
    await AuditEntry.insert(
        *[
            AuditEntry(
                at=now,
                actor=principal.user_id if principal else None,
                actor_role=principal.role.value if principal else "system",
                case_code=code,
                action=action,
                detail=detail,
            )
            for code in case_codes
        ]
    )
