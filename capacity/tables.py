from __future__ import annotations

from piccolo.columns import (
    Array,
    BigInt,
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


class Centre(Table, tablename="centre"):
    name = Varchar(length=160)
    operator = Varchar(length=160, default="")
    country = Varchar(length=2, index=True)
    community = Varchar(length=20, null=True, default=None)
    province = Varchar(length=8, index=True)
    municipality = Varchar(length=120)
    latitude = DoublePrecision()
    longitude = DoublePrecision()
    kind = Varchar(length=40, index=True)
    capabilities = Array(base_column=Varchar(length=40))
    languages = Array(base_column=Varchar(length=8))
    address = Text(default="")
    address_confidential = Boolean(default=False)
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    last_confirmed_at = Timestamptz(null=True, default=None)


class CentreStaff(Table, tablename="centre_staff"):
    """Binds a centre_staff user to the centres they work for."""

    centre = ForeignKey(references=Centre, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)


class Unit(Table, tablename="unit"):
    centre = ForeignKey(references=Centre, null=False, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=120)
    min_age = Integer()
    max_age = Integer()
    gender_policy = Varchar(length=10)
    active = Boolean(default=True)


class Bed(Table, tablename="bed"):
    unit = ForeignKey(references=Unit, null=False, on_delete=OnDelete.restrict, index=True)
    label = Varchar(length=40)
    status = Varchar(length=20, index=True)
    expected_departure = Date(null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class OccupancyEvent(Table, tablename="occupancy_event"):
    """Append-only history of bed status. Database triggers refuse UPDATE and DELETE."""

    bed = ForeignKey(references=Bed, null=False, on_delete=OnDelete.restrict, index=True)
    centre = ForeignKey(references=Centre, null=False, on_delete=OnDelete.restrict, index=True)
    actor = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    at = Timestamptz(index=True)
    from_status = Varchar(length=20, null=True, default=None)
    to_status = Varchar(length=20)
    reason = Text(default="")


class CapacityVersion(Table, tablename="capacity_version"):
    """One row whose `stamp` changes (database triggers) whenever a centre, unit or bed is
    inserted, changed or deleted: a process may keep derived data, such as the pool of free
    beds for matching, for as long as the stamp it read is current."""

    stamp = BigInt(default=0)
