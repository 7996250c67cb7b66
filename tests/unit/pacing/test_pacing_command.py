"""`cobrador bench pacing`: JSON summary per policy, user errors without tracebacks."""

from __future__ import annotations

import json

from test_pacing_simulator import TINY

from cobrador.cli import main


def _scenario_file(tmp_path):
    f = tmp_path / "tiny.json"
    f.write_text(json.dumps(TINY), encoding="utf-8")
    return str(f)


def test_given_tiny_scenario_when_bench_json_then_mean_min_max_per_policy(tmp_path, capsys):
    code = main(
        [
            "bench",
            "pacing",
            "--scenario",
            _scenario_file(tmp_path),
            "--policy",
            "progressive",
            "--policy",
            "predictive",
            "--seeds",
            "2",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["policies"]) == {"progressive", "predictive"}
    occ = out["policies"]["predictive"]["occupancy"]
    assert occ["min"] <= occ["mean"] <= occ["max"]
    for metric in (
        "talk_utilization",
        "abandonment",
        "worst_hour_abandonment",
        "calls_per_agent_hour",
        "connects_per_agent_hour",
        "sim_seconds_per_wall_second",
    ):
        assert metric in out["policies"]["progressive"]


def test_given_unknown_policy_when_bench_then_exit_2_with_message(tmp_path, capsys):
    code = main(["bench", "pacing", "--scenario", _scenario_file(tmp_path), "--policy", "turbo"])
    assert code == 2
    assert "unknown policy 'turbo'" in capsys.readouterr().err


def test_given_bad_scenario_when_bench_then_exit_2_with_message(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}', encoding="utf-8")
    assert main(["bench", "pacing", "--scenario", str(bad)]) == 2
    assert "missing field" in capsys.readouterr().err


def test_given_zero_seeds_when_bench_then_exit_2(tmp_path, capsys):
    assert main(["bench", "pacing", "--scenario", _scenario_file(tmp_path), "--seeds", "0"]) == 2


def test_given_a_scenario_with_inbound_when_bench_then_inbound_figures_beside_outbound(
    tmp_path, capsys
):
    from test_pacing_inbound_sim import with_inbound

    f = tmp_path / "blended.json"
    f.write_text(json.dumps(with_inbound()), encoding="utf-8")
    assert main(["bench", "pacing", "--scenario", str(f), "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "wait target 20 s" in out
    for line in ("inbound_wait_p50", "inbound_wait_p90", "inbound_abandonment", "occupancy"):
        assert line in out
    # With inbound, the default policies include the one blind to it.
    assert "predictive_ignores_inbound" in out


def test_given_an_outbound_only_scenario_when_bench_then_no_inbound_figures(tmp_path, capsys):
    assert main(["bench", "pacing", "--scenario", _scenario_file(tmp_path), "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "inbound" not in out
