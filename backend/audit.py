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
    await AuditEntry.insert(
        AuditEntry(
            at=utcnow(),
            actor=principal.user_id if principal else None,
            actor_role=principal.role.value if principal else "system",
            case_code=case_code,
            action=action,
            detail=detail,
        )
    )


async def record_many(principal: Principal, case_codes: list[str], action: str) -> None:
    if not case_codes:
        return
    now = utcnow()
    await AuditEntry.insert(
        *[
            AuditEntry(
                at=now,
                actor=principal.user_id,
                actor_role=principal.role.value,
                case_code=code,
                action=action,
                detail="",
            )
            for code in case_codes
        ]
    )
