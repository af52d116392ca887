"""Handled ids and proposal ids are kept for their retention, then forgotten (fake clock)."""

from __future__ import annotations

from actors.chain.retention import Retained

DAY = 86_400.0


def test_ids_past_retention_are_forgotten_oldest_first() -> None:
    handled: Retained[str] = Retained(retention_s=30 * DAY)
    handled.add("fed-1", "applied", at_s=0.0)
    handled.add("fed-2", "rejected: stale", at_s=10 * DAY)
    assert handled.prune(now_s=29 * DAY) == 0 and "fed-1" in handled
    assert handled.prune(now_s=31 * DAY) == 1
    assert "fed-1" not in handled and handled.get("fed-2") == "rejected: stale"
    assert handled.cutoff(31 * DAY) == 1 * DAY


def test_a_discarded_id_added_again_is_kept_for_its_new_time() -> None:
    ids: Retained[None] = Retained(retention_s=10.0)
    ids.add("p", None, at_s=0.0)
    ids.discard("p")
    ids.add("p", None, at_s=100.0)
    assert ids.prune(now_s=105.0) == 0 and "p" in ids and len(ids) == 1
    assert ids.prune(now_s=111.0) == 1 and len(ids) == 0


def test_an_id_added_out_of_time_order_is_never_dropped_early() -> None:
    ids: Retained[None] = Retained(retention_s=10.0)
    ids.add("late-clock", None, at_s=50.0)
    ids.add("stepped-back", None, at_s=20.0)
    assert ids.prune(now_s=45.0) == 0 and len(ids) == 2
    assert ids.prune(now_s=61.0) == 2
