"""How many jobs one instance should hold, and when to give some up: the spread's decisions.

Pure arithmetic on what the lease table says (leases.py asks it every renewal):
each live instance aims at its fair share, ceil(jobs / live instances). It
takes free or expired leases up to that share. Above it (an instance joined,
or the jobs became fewer) it gives up the surplus, but only once it has seen
itself above for `settle` renewals in a row, so a heartbeat that comes late
once does not move jobs about; and half the surplus at a time, so a joining
instance is fed over a few renewals rather than by one storm of IDLE sessions
closed and opened. The ceiling alone can starve an instance (9 jobs, 4
instances: 3, 3, 3, 0), so an instance above the floor also gives one up while
another live instance holds fewer than the floor, and an instance at the floor
takes nothing while another is below it (the jobs handed over are for that one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def fair_share(jobs: int, instances: int) -> int:
    """The most jobs one of `instances` live instances should hold."""
    return math.ceil(jobs / max(1, instances))


@dataclass(frozen=True)
class Standing:
    """What the lease table says at one renewal."""

    jobs: int  # the jobs to share out
    instances: int  # live instances, this one included
    held: int  # held by this instance
    least_held: int  # fewest held by any live instance (this one included)


@dataclass(frozen=True)
class Move:
    take: int  # free or expired leases to try to take now
    give_up: int  # held jobs to stop and release now


class Spread:
    """One instance's decisions, renewal after renewal (it remembers the hysteresis)."""

    def __init__(self, settle: int) -> None:
        self._settle = settle
        self._above = 0  # renewals in a row seen above the share

    def decide(self, standing: Standing) -> Move:
        share = fair_share(standing.jobs, standing.instances)
        floor = standing.jobs // max(1, standing.instances)
        surplus = max(0, standing.held - share)
        if not surplus and standing.held > floor and standing.least_held < floor:
            surplus = 1  # someone starves under the ceiling: hand one over
        if not surplus:
            self._above = 0
            # While someone starves, the jobs handed over are theirs, not ours to take back.
            hungry = standing.held < floor or standing.least_held >= floor
            return Move(take=max(0, share - standing.held) if hungry else 0, give_up=0)
        self._above += 1
        if self._above < self._settle:
            return Move(take=0, give_up=0)
        return Move(take=0, give_up=math.ceil(surplus / 2))
