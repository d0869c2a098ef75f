"""The demo network: invented centres, beds with an honest history, and demo users.

Every name, address and person here is invented. The centres sit in real municipalities at
approximate coordinates so that maps, distances and province filters behave as they would
with real data. One centre is named after the Esperanto centre the design is about (the only
specialised centre for minors who are victims of sexual exploitation in Belgium, 20 places);
its address here is invented too, and confidential as the real one is.

The data is deterministic (a seeded random generator) except for its times, which are laid
out backwards from the moment of loading so that freshness means something: most centres
changed or confirmed their beds in the last day, a few did not (stale).

What is written is exactly what the capacity services would have written, only in bulk:
every bed has its creation event, then one event per status change, each a valid
transition of the bed state machine, in time order; a bed's status is its last event's;
an event's centre is its bed's centre.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

from piccolo.table import Table

from backend.database import is_sqlite, write_transaction
from backend.identity import Role
from backend.passwords import hash_password
from backend.settings import get_settings
from backend.tables import User
from backend.timeutil import utcnow
from capacity import bed_states
from capacity.tables import Bed, Centre, CentreStaff, OccupancyEvent, Unit
from capacity.vocabulary import BedStatus, CentreKind, Community, Country, GenderPolicy
from notifications import rota
from notifications.tables import OnCallShift

DEMO_PASSWORD = "demo-password-2026"
"""Every demo user's password: the data is public, so is this. Never use it outside a demo."""

ESPERANTO = "Esperanto"

SEED = 20251119  # the day of the Senate resolution this system answers

# ---------------------------------------------------------------------------
# Users


class DemoUser(NamedTuple):
    username: str
    role: Role
    centre: str | None
    password: str


def _user(username: str, role: Role, centre: str | None = None) -> DemoUser:
    return DemoUser(username, role, centre, DEMO_PASSWORD)


DEMO_USERS: tuple[DemoUser, ...] = (
    _user("admin", Role.ADMIN),
    _user("admin.network", Role.ADMIN),
    _user("officer.liege", Role.PLACEMENT_OFFICER),
    _user("officer.brussels", Role.PLACEMENT_OFFICER),
    _user("officer.gent", Role.PLACEMENT_OFFICER),
    _user("coordinator.south", Role.COORDINATOR),
    _user("coordinator.north", Role.COORDINATOR),
    _user("analyst", Role.ANALYST),
    _user("analyst.policy", Role.ANALYST),
    _user("staff.esperanto", Role.CENTRE_STAFF, ESPERANTO),
    _user("staff.tilleuls", Role.CENTRE_STAFF, "Maison Les Tilleuls"),
    _user("staff.eupen", Role.CENTRE_STAFF, "Jugendhaus Hertogenwald"),
    _user("staff.linde", Role.CENTRE_STAFF, "Huis De Linde"),
    _user("staff.escale", Role.CENTRE_STAFF, "Foyer L'Escale"),
)

# display name, interface language
_PROFILES: dict[str, tuple[str, str]] = {
    "admin": ("Demo administrator", "en"),
    "admin.network": ("Netwerkbeheer (demo)", "nl"),
    "officer.liege": ("Délégué SAJ Liège (démo)", "fr"),
    "officer.brussels": ("Délégué SPJ Bruxelles (démo)", "fr"),
    "officer.gent": ("Consulent OCJ Gent (demo)", "nl"),
    "coordinator.south": ("Coordination de garde Sud (démo)", "fr"),
    "coordinator.north": ("Wachtcoördinatie Noord (demo)", "nl"),
    "analyst": ("Demo analyst", "en"),
    "analyst.policy": ("Observatoire (démo)", "fr"),
    "staff.esperanto": ("Équipe Esperanto (démo)", "fr"),
    "staff.tilleuls": ("Équipe Les Tilleuls (démo)", "fr"),
    "staff.eupen": ("Team Hertogenwald (Demo)", "de"),
    "staff.linde": ("Team De Linde (demo)", "nl"),
    "staff.escale": ("Équipe L'Escale (démo)", "fr"),
}

# The youth-aid service each officer or coordinator works for (invented desks).
DEMO_SERVICES: dict[str, str] = {
    "officer.liege": "SAJ Liège",
    "officer.brussels": "SPJ Bruxelles",
    "officer.gent": "OCJ Gent",
    "coordinator.south": "Coordination Sud",
    "coordinator.north": "Coördinatie Noord",
}

# ---------------------------------------------------------------------------
# Centres


@dataclass(frozen=True)
class DemoUnit:
    name: str
    min_age: int
    max_age: int
    gender_policy: GenderPolicy
    beds: int
    free: int | None = None  # exactly this many available beds (else drawn at random)
    out_of_service: int | None = None  # exactly this many out of service (else random)


@dataclass(frozen=True)
class DemoCentre:
    name: str
    operator: str
    country: Country
    community: Community | None
    province: str
    municipality: str
    latitude: float
    longitude: float
    kind: CentreKind
    capabilities: tuple[str, ...]
    languages: tuple[str, ...]
    address: str
    units: tuple[DemoUnit, ...]
    address_confidential: bool = False
    stale: bool = False  # no change and no confirmation for more than a day


G, B, M = GenderPolicy.GIRLS, GenderPolicy.BOYS, GenderPolicy.MIXED
FL, FR, DE = Community.FLEMISH, Community.FRENCH, Community.GERMAN_SPEAKING
RES = CentreKind.YOUTH_AID_RESIDENTIAL
URG = CentreKind.EMERGENCY_SHELTER
MENA = CentreKind.MENA_RECEPTION
PSY = CentreKind.PSYCHIATRIC_YOUTH
IPPJ = CentreKind.PUBLIC_YOUTH_INSTITUTION
SPEC = CentreKind.SPECIALISED_EXPLOITATION


def _be(name, operator, community, *place_and_kind, **flags) -> DemoCentre:
    """A Belgian centre: it belongs to a community."""
    return _centre(name, operator, Country.BE, community, *place_and_kind, **flags)


def _abroad(name, operator, province, *rest, **flags) -> DemoCentre:
    """A centre in the Netherlands or Luxembourg: no community."""
    return _centre(name, operator, Country(province[:2]), None, province, *rest, **flags)


def _centre(
    name, operator, country, community, province, municipality, lat, lon, kind, caps, langs,
    address, *units, **flags
) -> DemoCentre:  # fmt: skip
    return DemoCentre(
        name, operator, country, community, province, municipality, lat, lon, kind, tuple(caps),
        tuple(langs), address, tuple(units), **flags
    )  # fmt: skip


U = DemoUnit

# fmt: off
DEMO_CENTRES: tuple[DemoCentre, ...] = (
    # Brussels-Capital Region: French- and Dutch-speaking services side by side
    _be("Foyer L'Escale", "ASBL L'Escale", FR, "BE-BRU", "Anderlecht", 50.836, 4.308, URG,
        ["trauma"], ["fr", "nl", "en", "ar", "ro"], "Rue des Hirondelles 14, 1070 Anderlecht",
        U("Urgence filles", 12, 17, G, 6), U("Urgence garçons", 12, 17, B, 6)),
    _be("Huis Zonnebloem", "vzw Zonnebloem", FL, "BE-BRU", "Schaerbeek", 50.867, 4.373, RES,
        ["trauma"], ["nl", "fr", "en"], "Kersenboomstraat 31, 1030 Schaarbeek",
        U("Leefgroep Kompas", 12, 17, M, 8), U("Leefgroep Horizon", 6, 12, M, 8)),
    _be("Centre Passerelle", "ASBL Passerelle Jeunesse", FR, "BE-BRU", "Forest", 50.810, 4.320,
        MENA, [], ["fr", "en", "ar", "ps", "fa", "ti"], "Avenue des Mésanges 52, 1190 Forest",
        U("MENA garçons", 14, 17, B, 14), U("MENA filles", 12, 17, G, 6)),
    _be("Unité L'Envol", "Clinique des Coteaux (fictive)", FR, "BE-BRU", "Jette", 50.877,
        4.328, PSY, ["trauma", "addiction"], ["fr", "nl", "en"],
        "Rue du Verger Fleuri 8, 1090 Jette", U("Unité ados", 12, 17, M, 12)),
    # Antwerp
    _be("Huis De Linde", "vzw De Linde", FL, "BE-VAN", "Antwerpen", 51.219, 4.402, RES,
        ["trauma"], ["nl", "en", "fr", "ro", "bg"], "Lindenhofstraat 17, 2018 Antwerpen",
        U("Leefgroep Meisjes", 12, 17, G, 10), U("Leefgroep Jongens", 12, 17, B, 8),
        U("Kamertraining", 16, 18, M, 4)),
    _be("Crisisopvang Scheldezicht", "vzw Scheldezicht", FL, "BE-VAN", "Antwerpen", 51.232,
        4.420, URG, ["trauma"], ["nl", "en", "fr", "ar"], "Kaaimuur 5, 2000 Antwerpen",
        U("Crisisgroep", 12, 17, M, 8), stale=True),
    _be("Gemeenschapsinstelling De Heide", "Agentschap Opgroeien (demo)", FL, "BE-VAN", "Mol",
        51.191, 5.116, IPPJ, ["secure"], ["nl", "fr", "en"], "Heidebaan 120, 2400 Mol",
        U("Leefgroep Meisjes (gesloten)", 14, 18, G, 10),
        U("Leefgroep Jongens (gesloten)", 14, 18, B, 14)),
    _be("Huis Klaproos", "vzw Klaproos", FL, "BE-VAN", "Mechelen", 51.026, 4.477, RES,
        ["mother_and_child"], ["nl", "en"], "Papaverstraat 9, 2800 Mechelen",
        U("Moeder-kind", 14, 18, G, 6), U("Leefgroep", 10, 16, M, 8)),
    # Limburg
    _be("Huis De Berk", "vzw De Berk", FL, "BE-VLI", "Hasselt", 50.930, 5.338, RES,
        ["trauma"], ["nl", "en", "tr"], "Berkenlaan 44, 3500 Hasselt",
        U("Leefgroep Meisjes", 12, 17, G, 8), U("Leefgroep Gemengd", 12, 17, M, 8)),
    _be("Opvangcentrum Kempenland", "vzw Kempenland Onthaal", FL, "BE-VLI", "Genk", 50.965,
        5.500, MENA, [], ["nl", "en", "fr", "ar", "ps", "ti"], "Mijnwerkerspad 3, 3600 Genk",
        U("NBMV jongens", 15, 17, B, 16), U("NBMV meisjes", 14, 17, G, 6)),
    _be("Jeugdpsychiatrie De Boog", "Ziekenhuis Haspengouw (fictief)", FL, "BE-VLI",
        "Sint-Truiden", 50.816, 5.186, PSY, ["trauma", "addiction"], ["nl", "en", "fr"],
        "Boogschuttersweg 2, 3800 Sint-Truiden", U("Adolescenten", 12, 18, M, 12), stale=True),
    # East Flanders
    _be("Huis Ter Leie", "vzw Ter Leie", FL, "BE-VOV", "Gent", 51.054, 3.717, RES,
        ["trauma", "disability"], ["nl", "fr", "en", "bg", "ro"], "Leiebocht 21, 9000 Gent",
        U("Meisjesgroep", 12, 17, G, 8), U("Jongensgroep", 12, 17, B, 8),
        U("Kleine groep", 6, 11, M, 6)),
    _be("Crisisopvang Het Anker", "vzw Het Anker", FL, "BE-VOV", "Gent", 51.038, 3.735, URG,
        ["trauma"], ["nl", "en", "fr", "ar", "sq"], "Ankerkaai 7, 9000 Gent",
        U("Crisisbedden", 12, 17, M, 10)),
    _be("Huis De Waaier", "vzw De Waaier", FL, "BE-VOV", "Aalst", 50.938, 4.039, RES, [],
        ["nl", "en"], "Waaierstraat 12, 9300 Aalst", U("Leefgroep", 12, 17, M, 10), stale=True),
    _be("Jongerenhuis Reynaert", "vzw Reynaert", FL, "BE-VOV", "Sint-Niklaas", 51.165, 4.143,
        RES, ["addiction"], ["nl", "en", "fr"], "Vossenhol 4, 9100 Sint-Niklaas",
        U("Leefgroep Jongens", 14, 18, B, 8), U("Leefgroep Meisjes", 14, 18, G, 6)),
    # West Flanders
    _be("Huis Duinroos", "vzw Duinroos", FL, "BE-VWV", "Brugge", 51.209, 3.224, RES,
        ["trauma", "mother_and_child"], ["nl", "fr", "en"], "Duinroosstraat 33, 8000 Brugge",
        U("Moeder-kind", 14, 18, G, 6), U("Leefgroep", 12, 17, M, 10)),
    _be("Huis De Meeuw", "vzw De Meeuw", FL, "BE-VWV", "Kortrijk", 50.828, 3.265, RES, [],
        ["nl", "fr", "en"], "Meeuwenhof 6, 8500 Kortrijk",
        U("Leefgroep Meisjes", 12, 17, G, 8), U("Leefgroep Jongens", 12, 17, B, 8)),
    _be("Crisisopvang De Vuurtoren", "vzw Vuurtoren", FL, "BE-VWV", "Oostende", 51.216, 2.927,
        URG, [], ["nl", "en", "fr"], "Lichtbakenstraat 10, 8400 Oostende",
        U("Crisisgroep", 12, 17, M, 8), stale=True),
    # Flemish Brabant
    _be("Huis Dijlehof", "vzw Dijlehof", FL, "BE-VBR", "Leuven", 50.880, 4.700, RES,
        ["trauma"], ["nl", "en", "fr", "es"], "Dijlehofweg 15, 3000 Leuven",
        U("Leefgroep Meisjes", 12, 17, G, 8), U("Leefgroep Jongens", 12, 17, B, 8)),
    _be("Opvangcentrum Zennevallei", "vzw Zennevallei Onthaal", FL, "BE-VBR", "Halle", 50.734,
        4.234, MENA, [], ["nl", "fr", "en", "ar", "ps", "fa"], "Zennedijk 88, 1500 Halle",
        U("NBMV", 14, 17, B, 18)),
    _be("Jeugdpsychiatrie Molenveld", "Kliniek Molenveld (fictief)", FL, "BE-VBR", "Tienen",
        50.807, 4.938, PSY, ["trauma", "disability"], ["nl", "fr", "en"],
        "Molenveldstraat 1, 3300 Tienen", U("Jeugdunit", 12, 17, M, 10), stale=True),
    # Walloon Brabant: the Esperanto centre (invented address, confidential)
    _be(ESPERANTO, "ASBL Esperanto", FR, "BE-WBR", "Wavre", 50.717, 4.601, SPEC,
        ["exploitation_care", "trauma", "secure"], ["fr", "nl", "en", "ro", "bg", "sq"],
        "Chemin des Aubépines 3, 1300 Wavre (adresse inventée)",
        U("Unité Étoile", 12, 17, G, 12, free=1, out_of_service=0),
        U("Unité Horizon", 15, 18, G, 5, free=1, out_of_service=0),
        U("Unité Boussole", 12, 17, B, 3, free=0, out_of_service=0),
        address_confidential=True),
    _be("IPPJ Les Coudriers", "Fédération Wallonie-Bruxelles (démo)", FR, "BE-WBR",
        "Braine-le-Château", 50.680, 4.272, IPPJ, ["secure"], ["fr", "nl", "en"],
        "Rue des Coudriers 40, 1440 Braine-le-Château", U("Section garçons", 14, 18, B, 16)),
    _be("Maison Les Charmilles", "ASBL Les Charmilles", FR, "BE-WBR", "Nivelles", 50.598,
        4.328, RES, [], ["fr", "en"], "Allée des Charmilles 11, 1400 Nivelles",
        U("Groupe de vie", 12, 17, M, 10), U("Petits", 6, 12, M, 6)),
    # Hainaut
    _be("Maison Les Glycines", "ASBL Les Glycines", FR, "BE-WHT", "Charleroi", 50.411, 4.444,
        RES, ["trauma"], ["fr", "it", "en", "ar"], "Rue des Glycines 27, 6000 Charleroi",
        U("Filles", 12, 17, G, 8), U("Garçons", 12, 17, B, 8)),
    _be("Accueil d'urgence La Sambre", "ASBL Sambre Accueil", FR, "BE-WHT", "Charleroi",
        50.402, 4.462, URG, [], ["fr", "en", "ro"], "Quai des Péniches 19, 6000 Charleroi",
        U("Urgence", 12, 17, M, 10), stale=True),
    _be("Centre Escaut", "ASBL Escaut Accueil", FR, "BE-WHT", "Tournai", 50.606, 3.388, MENA,
        [], ["fr", "en", "ar", "ps", "fa"], "Rue des Bateliers 5, 7500 Tournai",
        U("MENA garçons", 14, 17, B, 14)),
    _be("Maison Les Saules", "ASBL Les Saules", FR, "BE-WHT", "Mons", 50.454, 3.952, RES,
        ["mother_and_child"], ["fr", "en"], "Chemin des Saules 2, 7000 Mons",
        U("Mères-enfants", 14, 18, G, 6), U("Groupe de vie", 12, 17, M, 8)),
    # Liège, with the German-speaking Community in Eupen
    _be("Maison Les Tilleuls", "ASBL Les Tilleuls", FR, "BE-WLG", "Liège", 50.633, 5.567, RES,
        ["trauma"], ["fr", "en", "ro", "bg", "sq"], "Rue des Tilleuls 23, 4000 Liège",
        U("Filles", 12, 17, G, 10, free=1), U("Garçons", 12, 17, B, 8)),
    _be("Jugendhaus Hertogenwald", "VoG Hertogenwald", DE, "BE-WLG", "Eupen", 50.630, 6.031,
        RES, [], ["de", "fr", "nl", "en"], "Waldweg 14, 4700 Eupen",
        U("Wohngruppe", 12, 17, M, 10)),
    _be("Accueil d'urgence La Vesdre", "ASBL La Vesdre", FR, "BE-WLG", "Verviers", 50.589,
        5.862, URG, ["trauma"], ["fr", "de", "en", "ar"], "Quai des Filatures 9, 4800 Verviers",
        U("Urgence", 12, 17, M, 8, free=1), stale=True),
    _be("IPPJ Les Fagnes", "Fédération Wallonie-Bruxelles (démo)", FR, "BE-WLG", "Trooz",
        50.567, 5.700, IPPJ, ["secure"], ["fr", "en"], "Route des Fagnes 60, 4870 Trooz",
        U("Section filles", 13, 18, G, 8, free=0)),
    _be("Service de pédopsychiatrie Les Hêtres", "Centre hospitalier Meuse (fictif)", FR,
        "BE-WLG", "Seraing", 50.583, 5.500, PSY, ["trauma", "addiction"],
        ["fr", "nl", "en", "de"], "Rue des Hêtres 100, 4100 Seraing",
        U("Unité ados", 12, 17, M, 12)),
    # Luxembourg (province)
    _be("Maison La Clairière", "ASBL La Clairière", FR, "BE-WLX", "Marche-en-Famenne", 50.227,
        5.344, RES, [], ["fr", "en"], "Rue de la Clairière 4, 6900 Marche-en-Famenne",
        U("Groupe de vie", 12, 17, M, 10), stale=True),
    _be("Centre Ardenne Accueil", "ASBL Ardenne Accueil", FR, "BE-WLX", "Bastogne", 50.000,
        5.716, MENA, [], ["fr", "en", "ar", "ps", "ti", "fa"], "Route des Sapins 31, 6600 Bastogne",
        U("MENA garçons", 14, 17, B, 14), U("MENA filles", 13, 17, G, 4)),
    # Namur
    _be("IPPJ Les Ormes", "Fédération Wallonie-Bruxelles (démo)", FR, "BE-WNA", "Namur",
        50.478, 4.842, IPPJ, ["secure", "trauma"], ["fr", "en"], "Rue des Ormes 77, 5002 Namur",
        U("Section filles", 13, 18, G, 10)),
    _be("Maison Les Bouleaux", "ASBL Les Bouleaux", FR, "BE-WNA", "Dinant", 50.261, 4.912, RES,
        ["disability"], ["fr", "nl", "en"], "Rue des Bouleaux 8, 5500 Dinant",
        U("Groupe de vie", 10, 16, M, 8), U("Grands", 15, 18, M, 6)),
    _be("Abri Le Phare", "ASBL Le Phare", FR, "BE-WNA", "Namur", 50.467, 4.867, URG, [],
        ["fr", "en", "ro", "bg"], "Rue du Phare 3, 5000 Namur", U("Urgence", 12, 17, M, 8),
        stale=True),
    # Netherlands (Benelux cross-border placements)
    _abroad("Jeugdzorg De Maasoever", "Stichting Maasoever (fictief)", "NL-LI", "Maastricht",
            50.851, 5.691, RES, ["trauma"], ["nl", "en", "de", "fr"],
            "Oeverpad 12, 6222 KL Maastricht",
            U("Meidengroep", 12, 17, G, 8), U("Gemengde groep", 12, 17, M, 8)),
    _abroad("Beschermde opvang De Vlinder", "Stichting Vlinder (fictief)", "NL-NB",
            "Eindhoven", 51.441, 5.478, SPEC,
            ["exploitation_care", "trauma", "secure"], ["nl", "en", "ro", "bg"],
            "Vlinderhof 1, 5611 ZZ Eindhoven (verzonnen adres)",
            U("Meidengroep", 12, 18, G, 12), address_confidential=True),
    _abroad("Crisisopvang Maasstad", "Stichting Maasstad Jeugd (fictief)", "NL-ZH",
            "Rotterdam", 51.924, 4.478, URG, [], ["nl", "en", "ar", "tr"],
            "Havenkade 40, 3011 XY Rotterdam", U("Crisisgroep", 12, 17, M, 10)),
    # Luxembourg
    _abroad("Foyer Alzette", "Association Alzette (fictive)", "LU-ES", "Esch-sur-Alzette",
            49.496, 5.981, RES, [], ["fr", "de", "lb", "pt", "en"],
            "Rue de l'Alzette 150, L-4011 Esch-sur-Alzette", U("Groupe de vie", 12, 17, M, 10)),
    _abroad("Foyer Sûre", "Association Sûre (fictive)", "LU-DI", "Diekirch", 49.868, 6.156,
            URG, ["trauma"], ["fr", "de", "lb", "en"], "Rue de la Sûre 21, L-9201 Diekirch",
            U("Accueil urgence", 12, 17, M, 8), stale=True),
)
# fmt: on

# Beds whose status is drawn at random: this share free, this share out of service.
FREE_SHARE = 0.07
OUT_OF_SERVICE_SHARE = 0.03
EXPECTED_DEPARTURE_SHARE = 0.2

_ADMISSIONS = (
    "admission",
    "admission (youth court order)",
    "admission (youth-aid service mandate)",
    "emergency admission (police, night)",
    "admission after a hold",
)
_DISCHARGES = (
    "discharge: return home",
    "discharge: transfer to another centre",
    "discharge: foster family",
    "discharge: reached majority",
    "discharge: supported independent living",
)
_OUT_OF_SERVICE = (
    "room under repair (water damage)",
    "room being repainted",
    "staff shortage: unit reduced",
    "bedding and furniture replaced",
)

# ---------------------------------------------------------------------------
# Planning (pure): what rows to write


@dataclass
class _Event:
    at: datetime
    from_status: BedStatus | None
    to_status: BedStatus
    reason: str
    actor: str | None  # a demo username, or None when no demo account did it


@dataclass
class _BedPlan:
    label: str
    created_at: datetime
    status: BedStatus
    expected_departure: date | None
    events: list[_Event]


@dataclass
class _UnitPlan:
    spec: DemoUnit
    beds: list[_BedPlan]


@dataclass
class _CentrePlan:
    spec: DemoCentre
    created_at: datetime
    last_confirmed_at: datetime | None
    units: list[_UnitPlan]


def _statuses(rng: random.Random, unit: DemoUnit) -> list[BedStatus]:
    """The final status of each bed of a unit: mostly occupied, some free, a few out."""
    if unit.free is not None and unit.out_of_service is not None:
        free, out = unit.free, unit.out_of_service
    else:
        draws = [rng.random() for _ in range(unit.beds)]
        free = sum(1 for d in draws if d < FREE_SHARE)
        out = sum(1 for d in draws if FREE_SHARE <= d < FREE_SHARE + OUT_OF_SERVICE_SHARE)
        free = unit.free if unit.free is not None else free
        out = unit.out_of_service if unit.out_of_service is not None else out
        out = min(out, unit.beds - free)
    statuses = (
        [BedStatus.AVAILABLE] * free
        + [BedStatus.OUT_OF_SERVICE] * out
        + [BedStatus.OCCUPIED] * (unit.beds - free - out)
    )
    rng.shuffle(statuses)
    return statuses


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def _bed_history(
    rng: random.Random,
    *,
    created_at: datetime,
    latest: datetime,
    final: BedStatus,
    recent_from: datetime | None,
    staff: str | None,
) -> list[_Event]:
    """Creation, an earlier stay perhaps, then the changes that lead to `final`.

    Every time lies in (created_at, latest]; with `recent_from`, the last change happens
    after it (a centre kept fresh by its changes rather than by a confirmation).
    """
    events = [_Event(created_at, None, BedStatus.AVAILABLE, "bed created", "admin")]
    if recent_from is not None:
        last_at = _between(rng, recent_from, latest)
    elif final is BedStatus.OCCUPIED:
        # Stays last weeks to months: the admission is up to half a year back.
        last_at = latest - timedelta(days=min(rng.expovariate(1 / 50), 180))
    else:
        last_at = latest - timedelta(days=rng.uniform(0, 12))
    last_at = max(last_at, created_at + timedelta(days=3))

    tail: list[tuple[BedStatus, str]] = []
    if final is BedStatus.OCCUPIED:
        tail = [(BedStatus.OCCUPIED, rng.choice(_ADMISSIONS))]
    elif final is BedStatus.AVAILABLE:
        tail = [
            (BedStatus.OCCUPIED, rng.choice(_ADMISSIONS)),
            (BedStatus.AVAILABLE, rng.choice(_DISCHARGES)),
        ]
    else:
        if rng.random() < 0.4:
            tail = [(BedStatus.OCCUPIED, rng.choice(_ADMISSIONS))]
        tail.append((BedStatus.OUT_OF_SERVICE, rng.choice(_OUT_OF_SERVICE)))

    # The tail's earlier steps (a stay that ended) lie between creation and the last change.
    times = [last_at]
    for _ in tail[:-1]:
        times.insert(0, _between(rng, created_at + timedelta(days=1), times[0]))
    # An earlier, finished stay for some beds, when there is room for one.
    if rng.random() < 0.5 and (times[0] - created_at) > timedelta(days=30):
        admitted = _between(rng, created_at + timedelta(hours=6), times[0] - timedelta(days=20))
        left = _between(rng, admitted + timedelta(days=7), times[0] - timedelta(days=1))
        admission, discharge = rng.choice(_ADMISSIONS), rng.choice(_DISCHARGES)
        events.append(_Event(admitted, BedStatus.AVAILABLE, BedStatus.OCCUPIED, admission, staff))
        events.append(_Event(left, BedStatus.OCCUPIED, BedStatus.AVAILABLE, discharge, staff))
    current = BedStatus.AVAILABLE
    for at, (target, reason) in zip(times, tail, strict=True):
        events.append(_Event(at, current, target, reason, staff))
        current = target
    for before, after in pairwise(events):
        if not (
            before.at < after.at and bed_states.can_transition(before.to_status, after.to_status)
        ):
            raise RuntimeError(f"demo history is inconsistent: {before} then {after}")
    return events


def plan_network(now: datetime, seed: int = SEED) -> list[_CentrePlan]:
    """The whole demo network with its history, laid out backwards from `now`."""
    rng = random.Random(seed)
    today = now.astimezone(get_settings().display_timezone).date()
    staff_of = {u.centre: u.username for u in DEMO_USERS if u.centre is not None}
    plans = []
    for spec in DEMO_CENTRES:
        created_at = now - timedelta(days=rng.uniform(90, 400))
        staff = staff_of.get(spec.name)
        recent_from = None
        if spec.stale:
            # Nothing changed or was confirmed for a day and a half at least (ten days or more
            # when the centre never confirmed and its last change is older still).
            latest = now - timedelta(hours=rng.uniform(36, 240))
            last_confirmed = latest if rng.random() < 0.6 else None
        else:
            latest = now - timedelta(minutes=2)
            if rng.random() < 0.75:
                last_confirmed = now - timedelta(hours=rng.uniform(0.3, 20))
            else:
                # Kept fresh by a change in the last hours rather than by a confirmation.
                last_confirmed = None
                recent_from = now - timedelta(hours=20)
        units = []
        for letter, unit in zip("ABCDEFGH", spec.units, strict=False):
            beds = []
            for number, final in enumerate(_statuses(rng, unit), start=1):
                bed_created = created_at + timedelta(seconds=len(units) * 60 + number)
                events = _bed_history(
                    rng,
                    created_at=bed_created,
                    latest=latest,
                    final=final,
                    recent_from=recent_from,
                    staff=staff,
                )
                recent_from = None  # one recent change is enough
                departure = None
                if final is BedStatus.OCCUPIED and rng.random() < EXPECTED_DEPARTURE_SHARE:
                    departure = today + timedelta(days=rng.randint(1, 35))
                beds.append(_BedPlan(f"{letter}{number}", bed_created, final, departure, events))
            units.append(_UnitPlan(unit, beds))
        plans.append(_CentrePlan(spec, created_at, last_confirmed, units))
    return plans


# ---------------------------------------------------------------------------
# Writing


async def _insert(table: type[Table], rows: list[Table], *returning) -> list[dict[str, Any]]:
    """Insert in chunks (bound-parameter limits), returning the asked columns of each row."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), 250):
        query = table.insert(*rows[start : start + 250])
        if returning:
            out.extend(await query.returning(*returning))
        else:
            await query
    return out


async def _insert_users(since: datetime) -> tuple[dict[str, int], list[str]]:
    """The demo users (one shared password hash); usernames already taken are left alone."""
    wanted = [u.username for u in DEMO_USERS]
    taken = {
        row["username"]
        for row in await User.select(User.username).where(User.username.is_in(wanted))
    }
    password_hash = hash_password(DEMO_PASSWORD)
    rows = [
        User(
            username=user.username,
            display_name=_PROFILES[user.username][0],
            role=user.role.value,
            language=_PROFILES[user.username][1],
            service=DEMO_SERVICES.get(user.username, ""),
            password_hash=password_hash,
            active=True,
            created_at=since,
        )
        for user in DEMO_USERS
        if user.username not in taken
    ]
    inserted = await _insert(User, rows, User.id, User.username)
    ids = {row["username"]: row["id"] for row in inserted}
    return ids, sorted(taken)


async def _write_network(plans: list[_CentrePlan]) -> dict[str, Any]:
    origin = min(p.created_at for p in plans) - timedelta(days=1)
    user_ids, skipped = await _insert_users(origin)

    centre_rows = await _insert(
        Centre,
        [
            Centre(
                name=p.spec.name,
                operator=p.spec.operator,
                country=p.spec.country.value,
                community=p.spec.community.value if p.spec.community else None,
                province=p.spec.province,
                municipality=p.spec.municipality,
                latitude=p.spec.latitude,
                longitude=p.spec.longitude,
                kind=p.spec.kind.value,
                capabilities=sorted(set(p.spec.capabilities)),
                languages=sorted(set(p.spec.languages)),
                address=p.spec.address,
                address_confidential=p.spec.address_confidential,
                active=True,
                created_at=p.created_at,
                updated_at=p.created_at,
                last_confirmed_at=p.last_confirmed_at,
            )
            for p in plans
        ],
        Centre.id,
        Centre.name,
    )
    centre_ids = {row["name"]: row["id"] for row in centre_rows}

    unit_rows = await _insert(
        Unit,
        [
            Unit(
                centre=centre_ids[p.spec.name],
                name=u.spec.name,
                min_age=u.spec.min_age,
                max_age=u.spec.max_age,
                gender_policy=u.spec.gender_policy.value,
                active=True,
            )
            for p in plans
            for u in p.units
        ],
        Unit.id,
        Unit.centre,
        Unit.name,
    )
    unit_ids = {(row["centre"], row["name"]): row["id"] for row in unit_rows}

    bed_rows = await _insert(
        Bed,
        [
            Bed(
                unit=unit_ids[(centre_ids[p.spec.name], u.spec.name)],
                label=b.label,
                status=b.status.value,
                expected_departure=b.expected_departure,
                active=True,
                created_at=b.created_at,
            )
            for p in plans
            for u in p.units
            for b in u.beds
        ],
        Bed.id,
        Bed.unit,
        Bed.label,
    )
    bed_ids = {(row["unit"], row["label"]): row["id"] for row in bed_rows}

    events = []
    for p in plans:
        centre_id = centre_ids[p.spec.name]
        for u in p.units:
            unit_id = unit_ids[(centre_id, u.spec.name)]
            for b in u.beds:
                bed_id = bed_ids[(unit_id, b.label)]
                events.extend((e, bed_id, centre_id) for e in b.events)
    # Inserted in time order, so event ids grow with time as they would have.
    events.sort(key=lambda item: item[0].at)
    await _insert(
        OccupancyEvent,
        [
            OccupancyEvent(
                bed=bed_id,
                centre=centre_id,
                actor=user_ids.get(e.actor) if e.actor else None,
                at=e.at,
                from_status=e.from_status.value if e.from_status else None,
                to_status=e.to_status.value,
                reason=e.reason,
            )
            for e, bed_id, centre_id in events
        ],
    )

    await _insert(
        CentreStaff,
        [
            CentreStaff(centre=centre_ids[u.centre], user=user_ids[u.username])
            for u in DEMO_USERS
            if u.centre is not None and u.username in user_ids
        ],
    )
    shifts = await _insert(
        OnCallShift,
        [
            OnCallShift(
                region="BE",
                level=level,
                user=user_ids[username],
                starts_at=starts,
                ends_at=ends,
                note="demo rota",
                created_at=origin,
            )
            for username, level, starts, ends in plan_rota(utcnow())
            if username in user_ids
        ],
    )
    return {
        "events": len(events),
        "users": len(user_ids),
        "skipped_users": skipped,
        "shifts": len(shifts),
    }


# The whole of Belgium on call week by week, Monday 08:00 to Monday 08:00 local time: the
# two coordinators take turns as on call (level 1) and backup (level 2); the network admin
# is the head of service (level 3).
ROTA_WEEKS = 8
ROTA_PAIR = ("coordinator.south", "coordinator.north")
HEAD_OF_SERVICE = "admin.network"


def plan_rota(now: datetime) -> list[tuple[str, int, datetime, datetime]]:
    zone = get_settings().display_timezone
    today = now.astimezone(zone).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time())
    first = monday.replace(hour=8)
    if now < rota.local_to_utc(first, zone):
        first -= timedelta(weeks=1)
    weeks = rota.weekly_shifts(first, first + timedelta(weeks=1), ROTA_WEEKS, zone)
    plan = []
    for week, (starts, ends) in enumerate(weeks):
        on_call, backup = ROTA_PAIR if week % 2 == 0 else ROTA_PAIR[::-1]
        plan += [
            (on_call, 1, starts, ends),
            (backup, 2, starts, ends),
            (HEAD_OF_SERVICE, 3, starts, ends),
        ]
    return plan


# ---------------------------------------------------------------------------
# Reset


class DemoRefused(RuntimeError):
    """The demo will not touch this database."""


def _refuse_in_production() -> None:
    if get_settings().is_production:
        raise DemoRefused("refusing to erase a production database (APP_ENV=production).")


async def _erase_sqlite() -> None:
    """Drop every table (the migration record too) and apply the migrations again.

    Occupancy events cannot be deleted row by row (database triggers), and that is the point;
    dropping a table drops its triggers first, so the file ends as a freshly migrated one.
    """
    from backend.migrate import apply_migrations

    async with write_transaction():
        rows = await Centre.raw(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        references = {
            row["name"]: {
                ref["table"]
                for ref in await Centre.raw(
                    'SELECT "table" FROM pragma_foreign_key_list({})', row["name"]
                )
            }
            - {row["name"]}
            for row in rows
        }
        # Foreign keys are checked at commit, when every table is gone; and a table is
        # dropped before the tables it references (SQLite needs them to drop it).
        await Centre.raw("PRAGMA defer_foreign_keys = ON")
        while references:
            referenced = set().union(*references.values())
            leaves = sorted(name for name in references if name not in referenced)
            if not leaves:
                raise RuntimeError(f"Circular foreign keys between {sorted(references)}.")
            for name in leaves:
                await Centre.raw(f'DROP TABLE "{name}"')
                del references[name]
    await apply_migrations()


async def _erase_postgres() -> None:
    """Empty every table but the migration record, in the caller's transaction.

    TRUNCATE is not a row deletion: the append-only triggers (UPDATE, DELETE) do not fire.
    """
    rows = await Centre.raw(
        "SELECT tablename FROM pg_tables "
        "WHERE schemaname = current_schema() AND tablename <> 'migration'"
    )
    names = ", ".join(f'"{row["tablename"]}"' for row in rows)
    if names:
        await Centre.raw(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


# ---------------------------------------------------------------------------
# Entry point


async def load_demo(reset: bool = False) -> str:
    """Load the demo network into an empty registry; return a one-paragraph summary.

    Safe to run again: when the database already holds centres, nothing is written.

    reset=True erases the whole database first (every centre, bed, event, user, token and
    session), for development only; it is refused when APP_ENV=production. Bed history is
    append-only, enforced by database triggers, so there is no row-by-row delete: on
    PostgreSQL every table is truncated in the same transaction as the load (so a failed
    load leaves the old data in place); on SQLite every table is dropped and the migrations
    are applied again, then the demo is loaded.
    """
    if reset:
        _refuse_in_production()
        if is_sqlite():
            await _erase_sqlite()
    now = utcnow()
    async with write_transaction():
        if not is_sqlite():
            # Two processes starting at once (several workers): one loads, the other waits
            # and then finds the centres.
            await Centre.raw("SELECT pg_advisory_xact_lock(7220251119)")
            if reset:
                await _erase_postgres()
        existing = await Centre.count()
        if existing:
            return (
                f"Demo data not loaded: the database already holds {existing} centres. "
                "Run `safebed demo --reset` to erase everything and load the demo network."
            )
        plans = plan_network(now)
        written = await _write_network(plans)
    return _summary(plans, written, reset)


def _summary(plans: list[_CentrePlan], written: dict[str, Any], reset: bool) -> str:
    beds = [b for p in plans for u in p.units for b in u.beds]
    by_status = {s: sum(1 for b in beds if b.status is s) for s in BedStatus}
    countries = {c: sum(1 for p in plans if p.spec.country is c) for c in Country}
    provinces = {p.spec.province for p in plans if p.spec.country is Country.BE}
    esperanto = next(p for p in plans if p.spec.name == ESPERANTO)
    esperanto_beds = [b for u in esperanto.units for b in u.beds]
    stale = sum(1 for p in plans if p.spec.stale)
    text = (
        f"{'Database erased. ' if reset else ''}"
        f"Demo network loaded (all invented): {len(plans)} centres "
        f"({countries[Country.BE]} in Belgium across {len(provinces)} provinces and regions, "
        f"{countries[Country.NL]} in the Netherlands, {countries[Country.LU]} in Luxembourg), "
        f"{sum(len(p.units) for p in plans)} units, {len(beds)} beds "
        f"({by_status[BedStatus.OCCUPIED]} occupied, {by_status[BedStatus.AVAILABLE]} free, "
        f"{by_status[BedStatus.OUT_OF_SERVICE]} out of service) with {written['events']} "
        f"occupancy events; {stale} centres are stale (no update for more than a day). "
        f"{ESPERANTO}, the only specialised centre in Belgium: {len(esperanto_beds)} beds, "
        f"{sum(1 for b in esperanto_beds if b.status is BedStatus.AVAILABLE)} free, "
        f"confidential address. On call for Belgium: {written['shifts']} weekly shifts "
        f"({', '.join(ROTA_PAIR)} in turn, {HEAD_OF_SERVICE} as head of service). "
        f"{written['users']} demo users, password {DEMO_PASSWORD!r}: "
        + ", ".join(f"{u.username} ({u.role})" for u in DEMO_USERS)
        + "."
    )
    if written["skipped_users"]:
        text += (
            " Usernames already taken, left unchanged (their demo password does not apply): "
            + ", ".join(written["skipped_users"])
            + "."
        )
    return text


__all__ = [
    "DEMO_CENTRES",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "ESPERANTO",
    "DemoRefused",
    "DemoUser",
    "load_demo",
]
