"""The audit log of youth cases: who read or changed which case, and when.

Written inside the caller's transaction, so a change and its audit entry stand or fall
together. The table is append-only (database triggers).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import msgspec

from backend.database import write_transaction
from backend.errors import InvalidInput
from backend.identity import Principal
from backend.settings import get_settings
from backend.tables import AuditEntry
from backend.timeutil import as_utc, utcnow

READ_AUDIT_LOG = "read_audit_log"
MAX_PER_PAGE = 200


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


class AuditEntryOut(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    user: str | None
    """The username, or None for the system (scheduled jobs, the retention purge)."""
    role: str
    case_code: str
    action: str
    detail: str


class AuditPage(msgspec.Struct, kw_only=True):
    entries: list[AuditEntryOut]
    """Newest first."""
    page: int
    per_page: int
    total: int
    """Entries matching the filters, over every page."""


def _day(value: date | str | None, field: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput("A day is written YYYY-MM-DD.", field=field) from error


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=get_settings().display_timezone)


async def search(
    principal: Principal,
    *,
    user: str | None = None,
    case_code: str | None = None,
    since: date | str | None = None,
    until: date | str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """Entries newest first, filtered by username, case code and local days (both inclusive).

    Reading the log is itself audited: one "read_audit_log" entry per case code on the page
    returned. Those entries are written after the page is read, and a page holds at most
    MAX_PER_PAGE entries, so each read adds a bounded number of entries and never feeds on
    itself.
    """
    since, until = _day(since, "from"), _day(until, "to")
    if since and until and since > until:
        raise InvalidInput("The period starts after it ends.", field="from")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be from 1 to {MAX_PER_PAGE}.", field="per_page")
    if page < 1:
        raise InvalidInput("page starts at 1.", field="page")
    conditions = []
    if user:
        conditions.append(AuditEntry.actor.username == user)
    if case_code:
        conditions.append(AuditEntry.case_code == case_code.strip().upper())
    if since:
        conditions.append(AuditEntry.at >= _local_start(since))
    if until:
        conditions.append(AuditEntry.at < _local_start(until + timedelta(days=1)))
    query = AuditEntry.select(
        *AuditEntry.all_columns(), AuditEntry.actor.username.as_alias("username")
    )
    count = AuditEntry.count()
    for condition in conditions:
        query = query.where(condition)
        count = count.where(condition)
    async with write_transaction():
        total = await count
        rows = (
            await query.order_by(AuditEntry.id, ascending=False)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        shown = sorted({row["case_code"] for row in rows})
        await record_many(principal, shown, READ_AUDIT_LOG, f"{len(rows)} entries")
    return AuditPage(
        entries=[
            AuditEntryOut(
                id=row["id"],
                at=as_utc(row["at"]),
                user=row["username"],
                role=row["actor_role"],
                case_code=row["case_code"],
                action=row["action"],
                detail=row["detail"],
            )
            for row in rows
        ],
        page=page,
        per_page=per_page,
        total=total,
    )
