"""What a run says while it is slow (compiling, fitting, writing), and the run-time estimate
of ``mcsim validate``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest

import mcsim
from mcsim import cli
from mcsim.progress import announce, compile_message, fit_message, kernels_cached
from mcsim.rates import compile_seconds, estimate_run_seconds, load_rates


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_announce_says_start_and_end_once_off_a_terminal():
    out = io.StringIO()
    with announce("fitting things", enabled=True, stream=out):
        pass
    lines = out.getvalue().splitlines()
    assert lines[0] == "mcsim: fitting things ..."
    assert lines[1].startswith("mcsim: fitting things: done in ")
    assert len(lines) == 2


def test_announce_ticks_on_a_terminal():
    out = _Terminal()
    with announce("compiling", enabled=True, stream=out):
        time.sleep(0.8)
    text = out.getvalue()
    assert text.startswith("mcsim: compiling ...")
    assert text.count("\rmcsim: compiling ... ") >= 2  # the elapsed time was redrawn
    assert text.endswith(" s\033[K\n") and "compiling: done in 0.8 s" in text


@pytest.mark.parametrize(("message", "enabled"), [("x", False), (None, True)])
def test_announce_is_silent_when_off(message, enabled):
    out = _Terminal()
    with announce(message, enabled=enabled, stream=out):
        pass
    assert out.getvalue() == ""


def test_announce_ends_its_line_when_the_step_fails():
    out = io.StringIO()
    with pytest.raises(RuntimeError), announce("step", enabled=True, stream=out):
        raise RuntimeError("boom")
    assert out.getvalue().endswith("\n")


def test_warm_cache_says_nothing_about_compiling(small_table):
    mcsim.run(mcsim.Scenario.from_dict(small_table()), seed=1)  # compiled or loaded now
    assert kernels_cached() is True
    plan = mcsim.prepare(mcsim.Scenario.from_dict(small_table()))
    assert compile_message(plan) is None


_PROBE = (
    "import mcsim; from mcsim.progress import kernels_cached, compile_message; "
    "plan = mcsim.prepare(mcsim.Scenario.from_toml('default_60_40')); "
    "print(kernels_cached()); print(compile_message(plan))"
)


def test_a_cold_cache_is_detected_and_announced(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-P", "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    cached, message = out.stdout.strip().splitlines()[-2:]
    assert cached == "False"
    assert message == (
        f"compiling kernels for this scenario (first run only, about {compile_seconds():.0f} s)"
    )


def test_slow_fits_are_announced():
    garch = mcsim.Scenario.from_toml("garch_dcc_60_40")
    assert fit_message(garch) == "fitting the GARCH model to shiller"
    assert fit_message(mcsim.Scenario.from_toml("regimes_60_40")).startswith(
        "fitting the regime-switching model"
    )
    assert fit_message(mcsim.Scenario.from_toml("default_60_40")) is None


def test_a_run_with_progress_says_it_writes_the_report(small_table, tmp_path, capsys):
    mcsim.run(mcsim.Scenario.from_dict(small_table()), seed=1, out=tmp_path / "r", progress=True)
    err = capsys.readouterr().err
    assert "mcsim: writing the results and the report ..." in err
    assert "writing the results and the report: done in" in err


def test_no_progress_is_silent(small_table, write_toml, tmp_path, capsys):
    path = write_toml(small_table(), tmp_path / "s.toml")
    assert cli.main(["run", str(path), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


# -- the run-time estimate ---------------------------------------------------------------------


def test_rates_are_measured_for_every_bundled_kind():
    rates = load_rates()
    assert {"gaussian", "garch", "regime", "bootstrap", "student_t"} <= set(
        rates["model_ns_per_series_step"]
    )
    assert {"buy_and_hold", "calendar", "threshold", "cppi"} <= set(
        rates["policy_ns_per_asset_step"]
    )
    assert all(v > 0 for v in rates["model_ns_per_series_step"].values())
    assert rates["compile_s"] > 0


def test_estimate_scales_with_paths_policies_and_workers(small_table):
    one = mcsim.prepare(mcsim.Scenario.from_dict(small_table(simulation={"n_paths": 64})))
    two = mcsim.prepare(mcsim.Scenario.from_dict(small_table(simulation={"n_paths": 128})))
    assert estimate_run_seconds(two, 1) == pytest.approx(2 * estimate_run_seconds(one, 1))
    fewer = small_table(policies=[{"name": "buy_and_hold", "kind": "buy_and_hold"}])
    single = mcsim.prepare(mcsim.Scenario.from_dict(fewer))
    assert estimate_run_seconds(single, 1) < estimate_run_seconds(one, 1)
    if (os.cpu_count() or 1) >= 2:
        assert estimate_run_seconds(one, 2) == pytest.approx(estimate_run_seconds(one, 1) / 2)
    # More workers than blocks (4 here) or cores do not help.
    assert estimate_run_seconds(one, 64) == pytest.approx(
        estimate_run_seconds(one, min(4, os.cpu_count() or 1))
    )


def test_validate_prints_the_estimate(capsys):
    assert cli.main(["validate", "default_60_40", "--paths", "20000"]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if "estimated run time" in s)
    assert "simulating with 1 worker(s)" in line and "rates measured" in line


@pytest.mark.slow
def test_estimate_is_within_a_factor_of_the_measured_run():
    scenario = mcsim.Scenario.from_toml("default_60_40")
    result = mcsim.run(scenario, n_paths=5000, seed=1)
    estimate = estimate_run_seconds(mcsim.prepare(scenario.replace(n_paths=5000)), 1)
    ratio = result.timings["simulate_s"] / estimate
    assert 0.25 < ratio < 4, ratio


def test_sweep_grid_points_count_as_policies():
    scenario = mcsim.Scenario.from_toml("choose_bands")
    plan = mcsim.prepare(scenario)
    named = {k: v for k, v in scenario.source.items() if k not in ("sweeps", "decision")}
    plain = mcsim.prepare(mcsim.Scenario.from_dict(named))
    n_points = len(plan.sweep_policies)
    assert n_points > 10
    ratio = estimate_run_seconds(plan, 1) / estimate_run_seconds(plain, 1)
    assert ratio == pytest.approx((len(plain.policies) + n_points) / len(plain.policies), rel=0.5)


def test_a_custom_rule_is_announced_only_until_its_loop_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MCSIM_CACHE_DIR", str(tmp_path))  # an empty rule-loop cache
    scenario = mcsim.Scenario.from_toml("bands_5_25").replace(n_paths=50)
    plan = mcsim.prepare(scenario)
    message = compile_message(plan)
    # Loops are memoised per process: another test may have loaded this rule's already.
    if message is not None:
        assert message.startswith("compiling the custom rule 'momentum_tilt'")
    mcsim.run(scenario, seed=1)
    assert compile_message(mcsim.prepare(scenario)) is None
