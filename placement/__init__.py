"""Placement: youth cases, placement requests, matching, holds, stays, runaways, waiting list.

Empty until the placement issue; its tables will live in placement/tables.py.
"""
