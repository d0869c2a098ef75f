from __future__ import annotations

from piccolo.columns import (
    JSON,
    Array,
    Boolean,
    Date,
    DoublePrecision,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.column_types import ForeignKey, OnDelete
from piccolo.table import Table

from backend.tables import User
from capacity.tables import Bed, Centre


class YouthCase(Table, tablename="youth_case"):
    """A minor, pseudonymous: a generated code and the facts placement needs, never a name."""

    case_code = Varchar(length=20, unique=True, index=True)
    birth_year = Integer()
    birth_month = Integer()
    gender = Varchar(length=10)
    languages = Array(base_column=Varchar(length=8))
    nationality_group = Varchar(length=20)
    migration_status = Varchar(length=40)
    care_needs = Array(base_column=Varchar(length=40))
    service = Varchar(length=120, index=True)  # the youth-aid service that opened the case
    opened_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    opened_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    # Set when the retention job erased the personal fields; from then on the case's
    # statistics come from its AnonymisedFact rows (see placement/stats_service.py).
    purged_at = Timestamptz(null=True, default=None)


class CaseFlag(Table, tablename="case_flag"):
    """A follow-up flag. Append-only: a correction is a new flag that supersedes an old one."""

    case = ForeignKey(references=YouthCase, null=False, on_delete=OnDelete.restrict, index=True)
    exploitation_type = Varchar(length=30)
    status = Varchar(length=12)
    discovered_on = Date()
    source_service = Varchar(length=120)
    note = Text(default="")
    supersedes = Integer(null=True, default=None)  # id of the flag this one replaces
    added_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    added_at = Timestamptz()


class PlacementRequest(Table, tablename="placement_request"):
    case = ForeignKey(references=YouthCase, null=False, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=12, index=True)
    urgency = Varchar(length=12)
    needed_on = Date(null=True, default=None)  # planned requests only
    required_capabilities = Array(base_column=Varchar(length=40))
    preferred_capabilities = Array(base_column=Varchar(length=40))
    excluded_municipalities = Array(base_column=Varchar(length=120))
    excluded_provinces = Array(base_column=Varchar(length=8))
    excluded_countries = Array(base_column=Varchar(length=2))
    danger_latitude = DoublePrecision(null=True, default=None)
    danger_longitude = DoublePrecision(null=True, default=None)
    safety_distance_km = DoublePrecision(null=True, default=None)
    distance_preference = Varchar(length=20)
    reference_latitude = DoublePrecision(null=True, default=None)
    reference_longitude = DoublePrecision(null=True, default=None)
    home_country = Varchar(length=2)
    cross_border_allowed = Boolean(default=False)
    judge_ordered_public_institution = Boolean(default=False)
    notes = Text(default="")
    requesting_service = Varchar(length=120, index=True)
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()
    waiting_since = Timestamptz(null=True, default=None)


class RequestEvent(Table, tablename="request_event"):
    """Append-only history of a request: every status change, candidate list and offer."""

    request = ForeignKey(
        references=PlacementRequest, null=False, on_delete=OnDelete.restrict, index=True
    )
    at = Timestamptz()
    actor = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    action = Varchar(length=30)
    from_status = Varchar(length=12, null=True, default=None)
    to_status = Varchar(length=12, null=True, default=None)
    reason = Text(default="")
    detail = JSON(default="{}")


class Hold(Table, tablename="hold"):
    request = ForeignKey(
        references=PlacementRequest, null=False, on_delete=OnDelete.restrict, index=True
    )
    bed = ForeignKey(references=Bed, null=False, on_delete=OnDelete.restrict, index=True)
    centre = ForeignKey(references=Centre, null=False, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=12, index=True)
    score = DoublePrecision(default=0.0)
    fallback = Boolean(default=False)
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    respond_by = Timestamptz(index=True)
    expires_at = Timestamptz(index=True)
    responded_at = Timestamptz(null=True, default=None)
    responded_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    refusal_reason = Varchar(length=30, null=True, default=None)
    refusal_text = Text(default="")
    closed_at = Timestamptz(null=True, default=None)


class Stay(Table, tablename="stay"):
    """A placement: the minor lives in the bed from admission until the stay ends."""

    case = ForeignKey(references=YouthCase, null=False, on_delete=OnDelete.restrict, index=True)
    request = ForeignKey(
        references=PlacementRequest, null=False, on_delete=OnDelete.restrict, index=True
    )
    hold = ForeignKey(references=Hold, null=False, on_delete=OnDelete.restrict)
    bed = ForeignKey(references=Bed, null=False, on_delete=OnDelete.restrict, index=True)
    centre = ForeignKey(references=Centre, null=False, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=12, index=True)
    fallback = Boolean(default=False)
    unmet_needs = Array(base_column=Varchar(length=40))
    admitted_at = Timestamptz()
    admitted_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    ended_at = Timestamptz(null=True, default=None)
    ended_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    end_reason = Varchar(length=20, null=True, default=None)
    end_note = Text(default="")


class RunawayEpisode(Table, tablename="runaway_episode"):
    """A minor gone from an active stay. Open until the minor returns (returned_at); the stay
    keeps the bed until keep_bed_until, then ends as not returned (stay_ended_at)."""

    stay = ForeignKey(references=Stay, null=False, on_delete=OnDelete.restrict, index=True)
    case = ForeignKey(references=YouthCase, null=False, on_delete=OnDelete.restrict, index=True)
    centre = ForeignKey(references=Centre, null=False, on_delete=OnDelete.restrict, index=True)
    bed = ForeignKey(references=Bed, null=False, on_delete=OnDelete.restrict)
    kind = Varchar(length=30)
    risk_level = Varchar(length=10)
    last_seen_at = Timestamptz()
    reported_at = Timestamptz(index=True)
    reported_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    circumstances = Text(default="")
    # The checklist: each item with when and by whom it was done.
    police_informed_at = Timestamptz(null=True, default=None)
    police_informed_by = ForeignKey(
        references=User, null=True, default=None, on_delete=OnDelete.restrict
    )
    police_reference = Varchar(length=60, null=True, default=None)
    hotline_informed_at = Timestamptz(null=True, default=None)
    hotline_informed_by = ForeignKey(
        references=User, null=True, default=None, on_delete=OnDelete.restrict
    )
    referring_service_informed_at = Timestamptz(null=True, default=None)
    referring_service_informed_by = ForeignKey(
        references=User, null=True, default=None, on_delete=OnDelete.restrict
    )
    return_interview_planned_on = Date(null=True, default=None)
    return_interview_planned_by = ForeignKey(
        references=User, null=True, default=None, on_delete=OnDelete.restrict
    )
    keep_bed_until = Timestamptz(index=True)
    returned_at = Timestamptz(null=True, default=None, index=True)
    returned_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    stay_ended_at = Timestamptz(null=True, default=None)
    # When the "still not returned" fact was recorded: the job looks only at the others.
    unresolved_recorded_at = Timestamptz(null=True, default=None)


class AnonymisedFact(Table, tablename="anonymised_fact"):
    """One countable fact of a purged case, kept for the statistics after its personal fields
    are erased. Deliberately no case code and no link to any other row: only the measure,
    the day and the dimensions the statistics publish (see placement/stats.py)."""

    measure = Varchar(length=24, index=True)
    day = Date()
    month = Varchar(length=7, index=True)  # "YYYY-MM", local (Brussels) month of `day`
    age_band = Varchar(length=8)
    sex = Varchar(length=10)
    exploitation = Varchar(length=30)
    migration = Varchar(length=40)
    place = Varchar(length=8)
    centre_kind = Varchar(length=40)
