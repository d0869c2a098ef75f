"""Words for the system's closed vocabularies, as people read them, in each language.

Every value a page shows (a role, a bed status, an urgency…) is translated through
`label(value)`; `N_` only marks the English words for the catalogues.
"""

from __future__ import annotations

from frontend import i18n


def N_(message: str) -> str:
    return message


LABELS: dict[str, str] = {
    # roles
    "admin": N_("Administrator"),
    "placement_officer": N_("Placement officer"),
    "centre_staff": N_("Centre staff"),
    "coordinator": N_("Coordinator"),
    "analyst": N_("Analyst"),
    # bed statuses
    "available": N_("Free"),
    "held": N_("Held"),
    "occupied": N_("Occupied"),
    "out_of_service": N_("Out of service"),
    "on_runaway": N_("Away: runaway"),
    # urgencies
    "immediate": N_("Tonight (immediate)"),
    "within_24h": N_("Within 24 hours"),
    "planned": N_("Planned"),
    # request statuses
    "open": N_("Open"),
    "waiting": N_("Waiting"),
    "accepted": N_("Accepted"),
    "placed": N_("Placed"),
    "cancelled": N_("Cancelled"),
    # hold statuses
    "pending": N_("Waiting for the centre"),
    "refused": N_("Refused"),
    "expired": N_("Expired"),
    "admitted": N_("Admitted"),
    # refusal reasons
    "no_place_in_practice": N_("No place in practice"),
    "unsuitable_group": N_("Unsuitable for the group"),
    "safety": N_("Safety"),
    "other": N_("Other"),
    # end of stay
    "discharge": N_("Discharge"),
    "transfer": N_("Transfer"),
    "majority": N_("Came of age"),
    "not_returned": N_("Not returned"),
    # runaways
    "missing": N_("Missing"),
    "away_without_authorisation": N_("Away without authorisation"),
    "high": N_("High"),
    "medium": N_("Medium"),
    "low": N_("Low"),
    # alerts
    "runaway": N_("Runaway"),
    "runaway_unresolved": N_("Runaway still unresolved"),
    "vacancy_for_waiting_request": N_("A bed for a waiting request"),
    "specialised_bed_freed": N_("Specialised place free"),
    "urgent_request_unmatched": N_("Urgent request without a bed"),
    "hold_response_overdue": N_("Hold not answered in time"),
    "hold_expiring": N_("Hold about to expire"),
    "occupancy_stale": N_("Bed status not confirmed"),
    "vacancy_digest": N_("Daily vacancies"),
    "critical": N_("Critical"),
    "normal": N_("Normal"),
    "acknowledged": N_("Acknowledged"),
    "resolved": N_("Resolved"),
    # communities of Belgium
    "flemish": N_("Flemish Community"),
    "french": N_("French Community"),
    "german_speaking": N_("German-speaking Community"),
    # alert channels and on-call levels
    "webhook": N_("Webhook"),
    "email": N_("E-mail"),
    "in_app": N_("In the app"),
    "on_call": N_("On call"),
    "backup": N_("Backup"),
    "head_of_service": N_("Head of service"),
    # genders
    "girl": N_("Girl"),
    "boy": N_("Boy"),
    "girls": N_("Girls"),
    "boys": N_("Boys"),
    "mixed": N_("Mixed"),
    # centre kinds
    "specialised_exploitation": N_("Specialised (exploitation)"),
    "youth_aid_residential": N_("Youth-aid residential"),
    "emergency_shelter": N_("Emergency shelter"),
    "public_youth_institution": N_("Public youth institution"),
    "mena_reception": N_("Reception of unaccompanied minors"),
    "psychiatric_youth": N_("Youth psychiatry"),
    # capabilities
    "exploitation_care": N_("Care for victims of exploitation"),
    "trauma": N_("Trauma care"),
    "addiction": N_("Addiction care"),
    "mother_and_child": N_("Mother and child"),
    "secure": N_("Secure unit"),
    "disability": N_("Disability care"),
    # exploitation types
    "prostitution": N_("Prostitution"),
    "loverboy_grooming": N_("Loverboy / grooming"),
    "sextortion": N_("Sextortion"),
    "trafficking": N_("Trafficking"),
    # nationality groups
    "belgian": N_("Belgian"),
    "eu": N_("Other EU country"),
    "non_eu": N_("Outside the EU"),
    "stateless": N_("Stateless"),
    # migration
    "none": N_("None"),
    "unaccompanied_foreign_minor": N_("Unaccompanied foreign minor"),
    "asylum_seeker_with_family": N_("Asylum seeker with family"),
    "recognised_refugee": N_("Recognised refugee"),
    "undocumented": N_("Undocumented"),
    "unknown": N_("Unknown"),
}


def label(value: object) -> str:
    """The reader's word for a vocabulary value (the value itself when it has none)."""
    raw = getattr(value, "value", value)
    text = LABELS.get(str(raw))
    return i18n.translations(i18n.current()).gettext(text) if text else str(raw)
