"""tests/support/database_drops.py: which test databases a run may drop as abandoned,
and the advisory lock that tells a live run's databases apart."""

from __future__ import annotations

import pytest
from support.database_drops import abandoned, run_lock_key, run_of_lock_key

OURS = "t_0000aaaa_"


def test_given_a_run_still_holding_its_lock_then_none_of_its_databases_is_dropped() -> None:
    # Its template has had no connection for minutes: the lock alone keeps it.
    names = ["t_1111bbbb_tpl_0123456789ab", "t_1111bbbb_0123456789ab"]
    assert abandoned(names, OURS, live={"1111bbbb"}, connected=set()) == []


def test_given_a_finished_run_then_its_databases_are_dropped() -> None:
    names = ["t_2222cccc_0123456789ab", "t_2222cccc_tpl_0123456789ab"]
    assert abandoned(names, OURS, live={"1111bbbb"}, connected=set()) == sorted(names)


def test_given_a_database_still_connected_then_it_is_kept_even_when_its_run_holds_no_lock() -> None:
    # A run of the code before the lock, or one whose lock connection dropped.
    names = ["t_2222cccc_0123456789ab", "t_2222cccc_ba9876543210"]
    kept = abandoned(names, OURS, live=set(), connected={"t_2222cccc_0123456789ab"})
    assert kept == ["t_2222cccc_ba9876543210"]


def test_given_this_runs_own_databases_then_they_are_never_dropped_as_left() -> None:
    names = [f"{OURS}0123456789ab", f"{OURS}tpl_0123456789ab"]
    assert abandoned(names, OURS, live=set(), connected=set()) == []


@pytest.mark.parametrize("name", ["t_other", "t_ZZZZZZZZ_0123", "t_1234567_0123", "tx_1111bbbb_1"])
def test_given_a_name_no_run_made_then_it_is_left_alone(name: str) -> None:
    assert abandoned([name], OURS, live=set(), connected=set()) == []


@pytest.mark.parametrize("run", ["00000000", "7fffffff", "80000000", "deadbeef", "ffffffff"])
def test_given_a_run_id_then_its_lock_key_fits_an_int4_and_reads_back_from_pg_locks(
    run: str,
) -> None:
    key = run_lock_key(run)
    assert -(1 << 31) <= key < 1 << 31  # pg_advisory_lock_shared(int4, int4)
    objid = key & 0xFFFFFFFF  # pg_locks shows the key as an unsigned oid
    assert run_of_lock_key(objid) == run
