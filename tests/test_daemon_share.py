"""The spread's arithmetic (daemon/share.py): fair shares, hysteresis, no starving."""

from __future__ import annotations

from deskmail.daemon.share import Move, Spread, Standing, fair_share


def test_fair_share_is_the_ceiling_of_jobs_over_live_instances() -> None:
    assert [fair_share(10, n) for n in (1, 2, 3, 4)] == [10, 5, 4, 3]
    assert fair_share(0, 3) == 0 and fair_share(5, 0) == 5


def test_an_instance_below_its_share_takes_up_to_it() -> None:
    assert Spread(2).decide(Standing(jobs=10, instances=3, held=1, least_held=1)) == Move(3, 0)


def test_a_surplus_is_given_up_only_after_settling_and_by_halves() -> None:
    spread = Spread(2)
    joined = Standing(jobs=300, instances=2, held=300, least_held=0)
    assert spread.decide(joined) == Move(0, 0), "seen once: could be a late heartbeat"
    assert spread.decide(joined) == Move(0, 75), "half of the 150 above the share"
    assert spread.decide(Standing(300, 2, 150, 150)) == Move(0, 0)


def test_a_surplus_seen_once_then_gone_moves_nothing() -> None:
    spread = Spread(2)
    assert spread.decide(Standing(jobs=6, instances=3, held=6, least_held=0)) == Move(0, 0)
    assert spread.decide(Standing(jobs=6, instances=1, held=6, least_held=6)) == Move(0, 0)
    assert spread.decide(Standing(jobs=6, instances=3, held=6, least_held=0)) == Move(0, 0)


def test_no_instance_starves_under_the_ceiling() -> None:
    # 9 jobs, 4 instances: 3, 3, 3 and 0 would all be within the ceiling of 3.
    full = Spread(1)
    assert full.decide(Standing(jobs=9, instances=4, held=3, least_held=0)) == Move(0, 1)
    starving = Spread(1)
    assert starving.decide(Standing(jobs=9, instances=4, held=0, least_held=0)) == Move(3, 0)
    # At the floor while another is below it: take nothing, the jobs handed over are theirs.
    assert Spread(1).decide(Standing(jobs=9, instances=4, held=2, least_held=1)) == Move(0, 0)
