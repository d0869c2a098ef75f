"""Batch allocation for coordinators (DESIGN §5): many waiting requests, many free beds.

Pure: no I/O. The assignment maximises the sum of urgency_weight * (placement_base + score)
over the pairs it makes, using only pairs that pass every hard rule of matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from placement.matching import (
    DEFAULT_WEIGHTS,
    BedCandidate,
    BedPool,
    MatchRequest,
    MatchWeights,
    evaluate,
)


@dataclass(frozen=True)
class AllocationRequest:
    request_id: int
    match: MatchRequest


@dataclass(frozen=True)
class Proposal:
    request_id: int
    bed: BedCandidate
    score: float  # the match score of this bed for this request
    weighted_score: float  # urgency_weight * (placement_base + score)
    fallback: bool  # the case needs exploitation care and this bed does not offer it


@dataclass(frozen=True)
class AllocationResult:
    proposals: tuple[Proposal, ...]  # in the order the requests were given
    unassigned_request_ids: tuple[int, ...]  # in the order the requests were given
    total_weighted_score: float


def allocate(
    requests: Sequence[AllocationRequest],
    pool: BedPool,
    weights: MatchWeights = DEFAULT_WEIGHTS,
) -> AllocationResult:
    """Propose at most one bed per request and one request per bed, maximising the total
    priority-weighted score."""
    request_ids = [request.request_id for request in requests]
    if len(set(request_ids)) != len(request_ids):
        raise ValueError("request ids must be unique")
    if weights.placement_base <= 0:
        raise ValueError("allocation needs placement_base > 0, so that any placement counts")
    if not requests or not len(pool):
        return AllocationResult((), tuple(request_ids), 0.0)

    # An optimal matching uses only each request's n best feasible beds (n = len(requests)):
    # if it gave request r a worse bed, one of r's n best is free (the others take at most
    # n - 1), and moving r there loses nothing.
    keep = len(requests)
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    for request in requests:
        _, feasible, score = evaluate(request.match, pool, weights)
        beds = np.flatnonzero(feasible)
        if beds.size > keep:
            beds = beds[np.argpartition(score[beds], beds.size - keep)[beds.size - keep :]]
        rows.append((beds, score[beds]))

    # Columns: only beds feasible (and kept) for at least one request.
    wanted = np.zeros(len(pool), dtype=bool)
    for beds, _ in rows:
        wanted[beds] = True
    columns = np.flatnonzero(wanted)
    if not columns.size:
        return AllocationResult((), tuple(request_ids), 0.0)
    column_of_bed = np.zeros(len(pool), dtype=np.intp)
    column_of_bed[columns] = np.arange(columns.size)
    # Infeasible pairs are worth 0 and every feasible one more than 0 (positive weights), so
    # the maximum-weight assignment, stripped of its zero pairs, is the best matching.
    utility = np.zeros((len(requests), columns.size))
    for row, ((beds, scores), request) in enumerate(zip(rows, requests, strict=True)):
        urgency = weights.urgency_weight[request.match.urgency]
        utility[row, column_of_bed[beds]] = urgency * (weights.placement_base + scores)
    assigned_rows, assigned_columns = linear_sum_assignment(utility, maximize=True)

    bed_of_row = {
        int(row): int(columns[column])
        for row, column in zip(assigned_rows, assigned_columns, strict=True)
        if utility[row, column] > 0
    }
    proposals = []
    unassigned = []
    total = 0.0
    for row, request in enumerate(requests):
        bed_index = bed_of_row.get(row)
        if bed_index is None:
            unassigned.append(request.request_id)
            continue
        weighted = float(utility[row, column_of_bed[bed_index]])
        beds, scores = rows[row]
        total += weighted
        proposals.append(
            Proposal(
                request_id=request.request_id,
                bed=pool.beds[bed_index],
                score=float(scores[np.flatnonzero(beds == bed_index)[0]]),
                weighted_score=weighted,
                fallback=request.match.needs_exploitation_care
                and not bool(pool.specialised[bed_index]),
            )
        )
    return AllocationResult(tuple(proposals), tuple(unassigned), total)
