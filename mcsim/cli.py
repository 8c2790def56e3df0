"""The ``mcsim`` command line: run scenarios, fit models, list data and scenarios."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import json
import math
import os
import shutil
import sys
import textwrap
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ._version import __version__
from .config import Scenario
from .data import list_datasets, load_returns
from .disk import check_disk, format_bytes, free_bytes
from .engine import (
    estimate_disk,
    estimate_memory,
    process_memory,
    run,
    streams,
    stressed_table_bytes,
)
from .errors import ConfigError, McsimError
from .fit_command import fit_command
from .learned.run import learn_command, ready_learned, save_trained, validation_stand_ins
from .models import HistoricalWindowsModel
from .optimize import DEFAULT_COSTS_BPS, optimize_band
from .output import check_folder, checkpoint_warnings_as_lines
from .plan import prepare
from .policies import BuyAndHold, Custom, Policy
from .progress import kernels_cached
from .rates import compile_seconds, estimate_run_seconds, load_rates
from .report.format import format_amount
from .report.headline import headline_table
from .report.model_risk import model_risk_line
from .scenarios import (
    bundled_scenarios,
    default_scenario_path,
    resolve_scenario,
    scenario_path,
)
from .schema import scenario_schema, write_schema
from .stress import episode_table
from .sweeps import parse_grid_option

__all__ = ["main"]


def _fmt(x: float, kind: str) -> str:
    if pd.isna(x):
        return "-"
    if kind == "pct":
        return f"{100 * x:.2f}%"
    if kind == "signed_money":
        return format_amount(x, signed=True)
    return format_amount(x)


def summary_table(result) -> pd.DataFrame:
    """The table ``mcsim run`` prints: one row per policy, the columns the scenario calls for
    (:func:`mcsim.report.headline.headline_columns`), formatted."""
    return headline_table(result)


def comparison_table(result) -> pd.DataFrame:
    """Paired differences against the baseline, formatted for the terminal."""
    c = result.comparison
    rows = {}
    for pol in result.policy_names:
        if pol == result.baseline:
            continue
        tw = c.loc[(pol, "terminal_wealth")]
        cagr = c.loc[(pol, "cagr")]
        dd = c.loc[(pol, "max_drawdown")]
        rows[pol] = {
            "wealth diff": _fmt(tw["mean_diff"], "signed_money"),
            "95% CI": f"[{_fmt(tw['ci95_low'], 'signed_money')}, "
            f"{_fmt(tw['ci95_high'], 'signed_money')}]",
            "P(more wealth)": _fmt(tw["prob_higher"], "pct"),
            "CAGR diff": f"{100 * cagr['mean_diff']:+.3f}pp",
            "maxDD diff": f"{100 * dd['mean_diff']:+.2f}pp",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(f"vs {result.baseline}")


def _resolve_scenario(arg: str | None) -> Path:
    return default_scenario_path() if arg is None else resolve_scenario(arg)


def _cmd_run(args: argparse.Namespace) -> int:
    path = _resolve_scenario(args.scenario)
    scenario = Scenario.from_toml(path, allow_code=args.allow_code)
    # Learned policies: model files read (relative to the scenario), missing ones trained.
    scenario, trained = ready_learned(scenario, path.parent)
    code = _run_and_print(scenario, args)
    for saved in save_trained(trained, args.out):
        print(f"Saved the trained model to {saved} (name it as `model` to reuse it).")
    return code


def _cmd_learn(args: argparse.Namespace) -> int:
    path = _resolve_scenario(args.scenario)
    scenario = Scenario.from_toml(path, allow_code=args.allow_code)
    learn_command(
        scenario, policy=args.policy, out=args.out, regressor=args.regressor,
        n_paths=args.paths, seed=args.seed,
    )  # fmt: skip
    return 0


def _run_and_print(scenario: Scenario, args: argparse.Namespace) -> int:
    _refuse_unimported_code(scenario)
    out = Path(args.out)
    progress = not args.no_progress and sys.stderr.isatty()
    backend = None if args.backend == "threads" else args.backend
    client = None
    if backend == "dask":
        client = _dask_client(args.scheduler)
    try:
        with checkpoint_warnings_as_lines():
            # Checks, locks and fills the folder; the blocks go only once every file is in.
            result = run(
                scenario,
                n_jobs=args.jobs if args.jobs is not None else (-1 if backend == "dask" else 1),
                seed=args.seed,
                n_paths=args.paths,
                progress=progress,
                out=args.out,
                report=False if args.no_report else args.report_plotly,
                out_name="--out",
                backend=backend,
                max_memory=None if args.max_memory is None else int(args.max_memory * 2**30),
                stream=getattr(args, "stream", None),
                disk_check=not args.no_disk_check,
            )
    finally:
        if client is not None:
            client.close()
    files = result.files
    sim = result.scenario.simulation
    t = result.timings
    print(
        f"{result.scenario.name}: {sim.n_paths:,} paths x {sim.n_steps} steps "
        f"({sim.horizon_years:g} years, {sim.steps_per_year}/year), seed entropy {result.entropy}, "
        f"{t['simulate_s']:.2f} s simulating on {t['n_jobs']} worker(s)"
        + (f", {t['blocks_resumed']} block(s) resumed" if t["blocks_resumed"] else "")
    )
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print()
        print(summary_table(result).to_string())
        risk = model_risk_line(result.scenario, result.model_check)
        if risk is not None:
            print()
            print(textwrap.fill(risk, width=min(shutil.get_terminal_size().columns, 100)))
        if len(result.policy_names) > 1:
            print()
            print(comparison_table(result).to_string())
        _print_stress_testing(result)
    _print_ranking(result)
    for note in _defaults_notes(result.scenario, args):
        print(note)
    print()
    print(f"Wrote {len(files)} files to {out}/: " + ", ".join(p.name for p in files.values()))
    return 0


_RANKING_SHOWN = 10


def ranking_lines(result) -> list[str]:
    """The ranking the CLI prints: the top 10 and the baseline per risk aversion, and the
    honest winner's line (empty without ``[decision]`` or a sweep)."""
    table = result.ranking
    if table is None:
        return []
    lines = []
    for g, part in table.groupby("risk_aversion", sort=False):
        part = part.sort_values("rank")
        shown = part.head(_RANKING_SHOWN)
        base = part.loc[part["policy"] == result.baseline]
        if not base.empty and result.baseline not in set(shown["policy"]):
            shown = pd.concat([shown, base])
        rows = {
            r.policy: {
                "rank": int(r.rank),
                "CE wealth": f"{r.certainty_equivalent_wealth:,.0f}",
                "+/- se": f"{r.certainty_equivalent_wealth_se:,.0f}",
                "CE return": f"{100 * r.certainty_equivalent_return:.2f}%",
                "fee equiv. bp/yr": f"{r.certainty_fee_equivalent_bp:+.1f}",
                "95% CI": f"[{r.certainty_fee_equivalent_bp_ci_low:+.1f}, "
                f"{r.certainty_fee_equivalent_bp_ci_high:+.1f}]",
            }
            for r in shown.itertuples()
        }
        frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")
        lines.append("")
        lines.append(
            f"ranking, risk aversion {g:g} ({len(part)} policies, fee equivalents against "
            f"{result.baseline}):"
        )
        lines.append(frame.to_string())
    winner = result.winner
    if winner is not None:
        points = result.sweep.point_names if result.sweep is not None else None
        lines.append(winner.line(points))
    return lines


def _print_ranking(result) -> None:
    with pd.option_context("display.width", 250, "display.max_colwidth", 60):
        for line in ranking_lines(result):
            print(line)


def _cmd_sweep(args: argparse.Namespace) -> int:
    path = _resolve_scenario(args.scenario)
    if not path.is_file():
        raise ConfigError(f"Scenario file {str(path)!r} does not exist.")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # Let the scenario reader give its precise message.
        Scenario.from_toml(path, allow_code=args.allow_code)
        raise
    names = [p.get("name") for p in table.get("policies", []) if isinstance(p, dict)]
    if args.policy not in names:
        close = difflib.get_close_matches(str(args.policy), [str(n) for n in names], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"`--policy` = {args.policy!r} is not a policy of {path.name}.{hint} "
            f"Policies: {', '.join(map(str, names))}."
        )
    if not args.grid:
        raise ConfigError(
            "`--grid` is required: give at least one, such as --grid band=0.01:0.1:0.01."
        )
    grid: dict[str, Any] = {}
    for option in args.grid:
        field, values = parse_grid_option(option)
        if field in grid:
            raise ConfigError(f"`--grid {field}` is given twice; give each field once.")
        grid[field] = list(values)
    sweeps = list(table.get("sweeps", []))
    index = len(sweeps)
    sweeps.append({"policy": args.policy, "grid": grid})
    table = {**table, "sweeps": sweeps}
    try:
        scenario = Scenario.from_dict(table, base_dir=path.parent, allow_code=args.allow_code)
    except ConfigError as e:
        # Name the flag the user typed rather than the table it became.
        text = str(e).replace(f"[[sweeps]][{index}].grid.", "--grid ")
        raise ConfigError(text) from e
    return _run_and_print(scenario, args)


def _cmd_optimize_band(args: argparse.Namespace) -> int:
    path = _resolve_scenario(args.scenario)
    scenario = Scenario.from_toml(path)
    if args.out is not None:
        check_folder(args.out, "--out")  # before the search, not after minutes of it
    costs = DEFAULT_COSTS_BPS
    if args.costs is not None:
        try:
            costs = tuple(float(c) for c in args.costs.split(","))
        except ValueError:
            raise ConfigError(
                f"`--costs` must be a comma list of bp, such as 1,2,5,10; got {args.costs!r}."
            ) from None
    study = optimize_band(
        scenario,
        policy=args.policy,
        costs_bps=costs,
        n_paths=args.paths,
        seed=args.seed,
        n_jobs=args.jobs,
    )
    for line in study.lines():
        print(line)
    if study.merton_weight is None:
        print("(no theory column: the formula needs a two-asset lognormal market with one")
        print(" nearly safe asset; see docs/choosing.md)")
    if args.out is not None:
        files = study.save(args.out, out_name="--out")
        print()
        print(
            f"Wrote {len(files)} files to {args.out}/: " + ", ".join(p.name for p in files.values())
        )
    return 0


# -- stress testing: tables of `mcsim run`, and `mcsim stresses` / `mcsim backtest` ---------


def stress_table(result) -> pd.DataFrame:
    """The compact stress table ``mcsim run`` prints: one row per (stress, policy).

    Differences are paired (stressed minus the same policy unstressed, same paths); the
    interval is the 95 % interval of the mean terminal-wealth difference.
    """
    st = result.stress
    rows = {}
    for stress in result.stress_names:
        for pol in result.policy_names:
            tw = st.loc[(pol, stress, "mean_terminal_wealth")]
            rows[(stress, pol)] = {
                "mean wealth": _fmt(tw["stressed"], "money"),
                "wealth diff": _fmt(tw["difference"], "signed_money"),
                "95% CI": f"[{_fmt(tw['ci95_low'], 'signed_money')}, "
                f"{_fmt(tw['ci95_high'], 'signed_money')}]",
                "median diff": _fmt(
                    st.loc[(pol, stress, "median_terminal_wealth"), "difference"], "signed_money"
                ),
                "CAGR diff": f"{100 * st.loc[(pol, stress, 'cagr'), 'difference']:+.2f}pp",
                "median maxDD": _fmt(
                    st.loc[(pol, stress, "median_max_drawdown"), "stressed"], "pct"
                ),
                "maxDD diff": (
                    f"{100 * st.loc[(pol, stress, 'median_max_drawdown'), 'difference']:+.2f}pp"
                ),
                "P(ruin)": _fmt(st.loc[(pol, stress, "p_ruin"), "stressed"], "pct"),
            }
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(df.index, names=["stress", "policy"])
    return df


def failure_table(result) -> pd.DataFrame:
    """Share of failing paths per policy, and how failing paths' first 5 years differ."""
    anatomy = result.failure
    rows = {}
    for pol in result.policy_names:
        s = anatomy.summary.loc[pol]
        f = anatomy.for_policy(pol)
        rows[pol] = {
            "failing": _fmt(s["share_failing"], "pct"),
            "5y return (fail)": _fmt(f.loc["return_5y", "failing_mean"], "pct"),
            "5y return (ok)": _fmt(f.loc["return_5y", "surviving_mean"], "pct"),
            "worst 12m (fail)": _fmt(f.loc["worst_12m_return", "failing_mean"], "pct"),
            "worst 12m (ok)": _fmt(f.loc["worst_12m_return", "surviving_mean"], "pct"),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")


def _print_stress_testing(result) -> None:
    if result.stress_names:
        print()
        print("Stresses (paired against the same policy unstressed, same paths):")
        print(stress_table(result).to_string())
    if result.failure is not None:
        conditions = ", ".join(result.scenario.failure.conditions())
        print()
        print(f"Failure ({conditions}; mode {result.scenario.failure.mode!r}):")
        print(failure_table(result).to_string())
    if result.window_starts is not None:
        print()
        print(
            f"historical_windows: {len(result.window_starts):,} paths, one per rolling window "
            f"of the data starting {result.window_starts[0]:%Y-%m} .. "
            f"{result.window_starts[-1]:%Y-%m}; [simulation].n_paths is ignored."
        )


def backtest_lines(result) -> list[str]:
    """One sentence per policy: the share of historical windows it survived."""
    sim = result.scenario.simulation
    starts = result.window_starts
    n = len(starts)
    ruined = result.metric("ruined")
    wealth = result.metric("terminal_wealth")
    goal = result.metric("goal_met") if sim.goal is not None else None
    lines = []
    for pol in result.policy_names:
        survived = 1.0 - float(ruined[pol].mean())
        worst = int(wealth[pol].to_numpy().argmin())
        line = (
            f"{pol} survived {100 * survived:.1f}% of the {n:,} historical "
            f"{sim.horizon_years:g}-year windows (never ran out of money)"
        )
        if goal is not None:
            line += f", met the goal in {100 * float(goal[pol].mean()):.1f}%"
        line += (
            f"; worst window started {starts[worst]:%Y-%m} "
            f"(terminal wealth {wealth[pol].iloc[worst]:,.0f})."
        )
        lines.append(line)
    return lines


def _cmd_backtest(args: argparse.Namespace) -> int:
    path = _resolve_scenario(args.scenario)
    scenario = Scenario.from_toml(path, allow_code=args.allow_code)
    _refuse_unimported_code(scenario)
    if scenario.data is None:
        raise ConfigError(
            f"`mcsim backtest` replays the scenario's data, but {str(path)!r} has no [data] "
            "section; add one, such as [data] source = 'shiller'."
        )
    # Learned policies are trained on the scenario's own model (simulated paths, the training
    # seed), then judged on history: paths they never saw.
    scenario, trained = ready_learned(scenario, path.parent)
    backtest = dataclasses.replace(scenario, model=HistoricalWindowsModel())
    with checkpoint_warnings_as_lines():
        result = run(
            backtest,
            n_jobs=args.jobs if args.jobs is not None else 1,
            progress=not args.no_progress and sys.stderr.isatty(),
            out=args.out,
            report=not args.no_report,
            out_name="--out",
        )
    sim = result.scenario.simulation
    starts = result.window_starts
    print(
        f"{result.scenario.name} on history: {len(starts):,} rolling {sim.horizon_years:g}-year "
        f"windows of [data] source {scenario.data.source!r} starting "
        f"{starts[0]:%Y-%m} .. {starts[-1]:%Y-%m} (same policies, costs, flows and taxes)"
    )
    print()
    for line in backtest_lines(result):
        print(line)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print()
        print(summary_table(result).to_string())
        if result.stress_names:
            print()
            print(stress_table(result).to_string())
        if result.failure is not None:
            print()
            print(failure_table(result).to_string())
    files = result.files
    print()
    print(f"Wrote {len(files)} files to {args.out}/: " + ", ".join(p.name for p in files.values()))
    for saved in save_trained(trained, args.out):
        print(f"Saved the trained model to {saved} (name it as `model` to reuse it).")
    return 0


def _cmd_stresses(args: argparse.Namespace) -> int:
    table = episode_table()
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    effects = [c for c in table.columns if "." in c and table[c].notna().any()]
    shown = table[["start", "end", "months", *effects]].copy()
    for c in effects:
        shown[c] = shown[c].map(lambda x: "-" if pd.isna(x) else f"{100 * x:+.1f}%")
    print('Bundled episodes (kind = "historical", episode = NAME): compounded return of each')
    print("bundled series over the episode.")
    print()
    with pd.option_context("display.width", width, "display.max_columns", None):
        print(shown.to_string(line_width=width))
    print()
    for name, row in table.iterrows():
        text = f"{name} ({row['title']}, {row['start']}..{row['end']}): {row['description']}"
        print(textwrap.fill(text, width=width, subsequent_indent="    "))
    return 0


def _refuse_unimported_code(scenario) -> None:
    """Stop a run, before anything is created, if the scenario names code not imported."""
    refs = scenario.code_references
    if refs:
        name, spec = refs[0]
        more = f" (and {len(refs) - 1} more custom rule(s))" if len(refs) > 1 else ""
        raise ConfigError(
            f"policy {name!r} names code {spec!r} (`[policies.{name}].rebalance_nb`){more}, "
            "which mcsim imports only with --allow-code; add --allow-code if you trust that "
            "module (importing it runs its code)."
        )


_STEP_NAMES = {1: "annual", 2: "semiannual", 4: "quarterly", 12: "monthly", 52: "weekly"}


def _defaults_notes(scenario, args: argparse.Namespace) -> list[str]:
    """One line per section the scenario file left out, saying which defaults were used."""
    notes = []
    defaulted = scenario.defaulted_sections
    if "simulation" in defaulted:
        sim = scenario.simulation
        steps = _STEP_NAMES.get(sim.steps_per_year, f"{sim.steps_per_year}-per-year")
        paths = f"{sim.n_paths:,} paths" + (" (--paths)" if args.paths is not None else "")
        seed_arg = getattr(args, "seed", None)
        if seed_arg is not None:
            seed = f"seed {seed_arg} (--seed)"
        elif sim.seed is None:
            seed = "no seed: fresh entropy each run"
        else:
            seed = f"seed {sim.seed}"
        notes.append(
            f"[simulation] not given: defaults used ({paths}, {sim.horizon_years:g} years, "
            f"{steps} steps, blocks of {sim.block_size:,} paths, initial wealth "
            f"{sim.initial_wealth:,.0f}, {seed})."
        )
    if "model" in defaulted:
        model = scenario.model
        detail = f"kind {model.kind!r}"
        estimator = getattr(model, "estimator", None)
        if isinstance(estimator, str):
            detail += f" with the {estimator!r} covariance estimator"
        # A model with no section has no parameters: it was fitted to the data.
        if scenario.data is not None:
            detail += f", fitted to [data] source {scenario.data.source!r}"
        notes.append(f"[model] not given: defaults used ({detail}).")
    return notes


def _local_cluster_options(n_workers: int) -> dict[str, Any]:
    """Options of the local Dask cluster: scheduler and dashboard on this machine only.

    distributed's defaults listen on every interface, so anyone on the network could reach
    the scheduler (and run code on the workers) and see the dashboard.
    """
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
    }


def _dask_client(address: str | None):
    try:
        from dask.distributed import Client
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise McsimError(
            '--backend dask needs dask.distributed: pip install ".[dask]" from the clone.'
        ) from e
    if address:
        try:
            client = Client(address)
        except (OSError, ValueError, TimeoutError) as e:
            raise McsimError(
                f"`--scheduler {address}`: cannot connect to a Dask scheduler there ({e}); "
                "check the address (such as tcp://host:8786) and that the scheduler runs."
            ) from e
    else:
        # Given the options rather than a cluster, the client owns the cluster it starts
        # and shuts it down when it is closed.
        client = Client(**_local_cluster_options(os.cpu_count() or 1))
    link = getattr(client, "dashboard_link", None)
    if link:
        print(f"mcsim: Dask dashboard at {link}", file=sys.stderr)
    return client


def _cmd_validate(args: argparse.Namespace) -> int:
    path = _resolve_scenario(args.scenario)
    scenario = Scenario.from_toml(path, allow_code=args.allow_code)
    if args.paths is not None:
        scenario = scenario.replace(n_paths=args.paths)
    refs = scenario.code_references
    scenario, learned_notes = validation_stand_ins(scenario, path.parent)
    plan = prepare(_with_stand_ins(scenario) if refs else scenario)
    sim = scenario.simulation
    print(f"{scenario.name}: valid.")
    print(f"  assets: {', '.join(plan.asset_names)}")
    print(f"  model: {plan.model.kind}; policies: {', '.join(p.name for p in plan.policies)}")
    print(f"  {sim.n_paths:,} paths x {sim.n_steps} steps in {sim.n_blocks} block(s)")
    jobs = (os.cpu_count() or 1) if args.jobs == -1 else args.jobs
    for line in memory_lines(plan, jobs):
        print(f"  {line}")
    for line in disk_lines(plan, args.out):
        print(f"  {line}")
    print(f"  {run_time_line(plan, jobs)}")
    for name, spec in refs:
        print(
            f"  policy {name!r} names code {spec!r}; it is imported only with --allow-code "
            "(its rule is not checked)"
        )
    for note in [*learned_notes, *_defaults_notes(scenario, args)]:
        print(f"  {note}")
    return 0


def memory_lines(plan, jobs: int) -> list[str]:
    """The memory estimate ``mcsim validate`` prints: the baseline measured in this process
    (a run starts from the same imports and the same prepared scenario), and the peak."""
    run_mib = estimate_memory(plan, jobs) / 2**20
    baseline = process_memory()
    where = " (per-path table streamed to disk)" if streams(plan) else ""
    if baseline is None:
        line = f"estimated peak memory: {run_mib:,.0f} MiB with {jobs} worker(s) for the run"
        return [f"{line}, besides the interpreter's own (not measurable here){where}"]
    base_mib = baseline / 2**20
    lines = [
        f"memory baseline: {base_mib:,.0f} MiB (this process: Python with numpy, numba, "
        "pandas and pyarrow imported and the scenario prepared, as a run starts)",
        f"estimated peak memory: {base_mib + run_mib:,.0f} MiB with {jobs} worker(s): the "
        f"baseline + {run_mib:,.0f} MiB for the run{where}",
    ]
    if where and plan.stresses:
        lines.append(
            f"of which {stressed_table_bytes(plan) / 2**20:,.0f} MiB are the per-path tables "
            f"of the {len(plan.stresses)} stressed variant(s), held in memory (not streamed)"
        )
    return lines


def disk_lines(plan, out: str | None) -> list[str]:
    """The disk estimate ``mcsim validate`` prints: what a run into ``out`` writes there,
    and, with ``out``, the space free on its disk (a run that would not fit is an error)."""
    (need,) = estimate_disk(plan, out=out if out is not None else ".", label="--out")
    lines = [f"estimated disk: {need.describe()} written into the --out folder while running"]
    if out is None:
        return [*lines, "(give --out DIR to check the space free there)"]
    fix = (
        "run into a folder on a disk with more space (`--out`), free some space, or lower `--paths`"
    )
    check_disk([need], fix)
    free = free_bytes(out)
    if free is not None:
        lines.append(f"free on the disk of {out}: {format_bytes(free)}")
    return lines


def run_time_line(plan, jobs: int) -> str:
    """The estimate ``mcsim validate`` prints: simulation seconds from the measured rates,
    and the one-off compile when numba's cache does not hold the kernels yet."""
    seconds = estimate_run_seconds(plan, jobs)
    line = f"estimated run time: {_duration(seconds)} simulating with {jobs} worker(s)"
    if kernels_cached(plan) is False:
        line += f", plus {_duration(compile_seconds())} compiling on this first run"
    measured = load_rates()["measured"]
    return line + f" (rates measured {measured['date']} on {measured['machine'].split(',')[0]})"


def _duration(seconds: float) -> str:
    if seconds < 0.5:
        return "under a second"
    if seconds < 120:
        return f"about {seconds:.0f} s"
    if seconds < 7200:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def _with_stand_ins(scenario):
    """The scenario with each unimported custom rule replaced by a rule that never trades.

    The stand-in keeps the policy's name, target, flows, glide path and tax settings, so
    everything but the rule itself is checked against the data, and the memory estimate
    counts the same policies, without importing anything.
    """
    base = [f.name for f in dataclasses.fields(Policy)]
    policies = [
        BuyAndHold(**{k: getattr(p, k) for k in base})
        if isinstance(p, Custom) and p.code_reference is not None
        else p
        for p in scenario.policies
    ]
    return dataclasses.replace(scenario, policies=policies)


def _cmd_fit(args: argparse.Namespace) -> int:
    return fit_command(
        args.data,
        args.model,
        columns=args.columns,
        start=args.start,
        end=args.end,
        kind=args.kind,
        steps_per_year=args.steps_per_year,
        options=args.option or None,
        n_paths=args.paths,
        seed=args.seed,
        out=args.out,
    )


def _terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` when set), at least 40."""
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def dataset_lines(width: int) -> list[str]:
    """The listing of ``mcsim data``: per dataset a heading line and its details indented,
    every line at most ``width`` characters."""
    lines: list[str] = []
    for row in list_datasets().itertuples(index=False):
        heading = (
            f"{row.name}: {row.frequency} {row.kind}, {row.first:%Y-%m} .. {row.last:%Y-%m}, "
            f"{row.rows:,} rows"
        )
        lines.extend(textwrap.wrap(heading, width, subsequent_indent="    "))
        for label, text in (
            ("series", row.columns),
            ("about", row.description),
            ("source", row.citation),
        ):
            lines.extend(
                textwrap.wrap(
                    f"{label}: {text}",
                    width,
                    initial_indent="  ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                )
            )
        lines.append("")
    return lines[:-1]


def _cmd_data(args: argparse.Namespace) -> int:
    width = _terminal_width()
    if args.name is None:
        print("\n".join(dataset_lines(width)))
        return 0
    df = load_returns(args.name, kind=args.kind)
    print(f"{args.name}: {len(df):,} rows, {df.index[0].date()} .. {df.index[-1].date()}")
    print(df.describe().T.to_string(line_width=width))
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.out is None:
        print(json.dumps(scenario_schema(), indent=2))
        return 0
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(
            f"`--out` {str(out)!r} is a folder; give a file such as {out}/mcsim.json."
        )
    if not out.parent.is_dir():
        raise ConfigError(
            f"`--out`: the folder {str(out.parent)!r} does not exist; create it or write elsewhere."
        )
    try:
        write_schema(out)
    except OSError as e:
        raise ConfigError(f"`--out` {str(out)!r} cannot be written ({e.strerror}).") from e
    print(f"Wrote the JSON Schema of scenario files to {out}", file=sys.stderr)
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    for name in bundled_scenarios():
        with scenario_path(name).open("rb") as f:
            desc = tomllib.load(f).get("description", "")
        print(f"{name:28s} {desc}")
    return 0


_ALLOW_CODE_HELP = (
    "import the custom rules the scenario names as package.module:function (this runs those"
    " modules' code; mcsim's own modules are imported without it)"
)


def _add_no_disk_check(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-disk-check",
        action="store_true",
        help="start even when the estimate of what the run writes exceeds the free disk space "
        "(the estimate has a margin; a full disk still stops the run, blocks kept)",
    )


def _add_report_plotly(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--report-plotly",
        choices=["inline", "directory"],
        default="inline",
        help="inline (default): plotly.js inside report.html, opens offline; directory: one "
        "plotly.min.js beside report.html, which stays under 600 KB",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcsim",
        description="Monte Carlo scenarios for portfolio rebalancing policies.",
    )
    parser.add_argument("--version", action="version", version=f"mcsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a scenario and write results and a report")
    p.add_argument(
        "scenario",
        nargs="?",
        help="scenario TOML file or bundled name (default: the bundled 60/40)",
    )
    p.add_argument("--out", required=True, help="results folder (created if needed)")
    p.add_argument("--paths", type=int, help="number of paths (overrides [simulation].n_paths)")
    p.add_argument("--seed", type=int, help="root seed (overrides [simulation].seed)")
    p.add_argument(
        "--jobs",
        type=int,
        help="workers (default 1; with --backend dask, all cluster workers); -1 for all cores;"
        " results do not depend on it",
    )
    p.add_argument(
        "--backend",
        choices=["threads", "loky", "dask"],
        help="joblib backend (default threads; dask when --scheduler is given)",
    )
    p.add_argument(
        "--scheduler",
        help="dask scheduler address (implies --backend dask; default: a local cluster bound to"
        " 127.0.0.1)",
    )
    p.add_argument(
        "--max-memory",
        type=float,
        help="memory the run may use, in GiB (default: available memory)",
    )
    stream = p.add_mutually_exclusive_group()
    stream.add_argument(
        "--stream",
        action="store_const",
        const=True,
        dest="stream",
        help="write the per-path table to disk as blocks finish (paths.parquet becomes a "
        "Parquet dataset folder; default: for tables over 256 MiB or that would not fit)",
    )
    stream.add_argument(
        "--no-stream",
        action="store_const",
        const=False,
        dest="stream",
        help="hold the per-path table in memory (paths.parquet is one file)",
    )
    _add_no_disk_check(p)
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    _add_report_plotly(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--allow-code", action="store_true", help=_ALLOW_CODE_HELP)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("learn", help="train a learned policy of a scenario; writes model.json")
    p.add_argument("scenario", help="scenario TOML file or bundled name")
    p.add_argument("--policy", help="the learned policy (needed when there are several)")
    p.add_argument("--out", required=True, help="model file to write (model.json)")
    p.add_argument(
        "--regressor",
        choices=["linear", "tree", "boosting"],
        help="overrides the policy's regressor",
    )
    p.add_argument("--paths", type=int, help="training paths (overrides train_paths)")
    p.add_argument("--seed", type=int, help="training seed (overrides train_seed)")
    p.add_argument("--allow-code", action="store_true", help=_ALLOW_CODE_HELP)
    p.set_defaults(func=_cmd_learn)

    p = sub.add_parser(
        "sweep", help="run a scenario with a grid of variants of one of its policies, ranked"
    )
    p.add_argument("scenario", help="scenario TOML file or bundled name")
    p.add_argument("--policy", required=True, help="the scenario's policy whose fields are swept")
    p.add_argument(
        "--grid",
        action="append",
        metavar="FIELD=VALUES",
        help="swept field and values: start:stop:step (inclusive) or a comma list; repeatable",
    )
    p.add_argument("--out", required=True, help="results folder (created if needed)")
    p.add_argument("--paths", type=int, help="number of paths (overrides [simulation].n_paths)")
    p.add_argument("--seed", type=int, help="root seed (overrides [simulation].seed)")
    p.add_argument("--jobs", type=int, help="workers (default 1); results do not depend on it")
    p.add_argument(
        "--backend",
        choices=["threads", "loky", "dask"],
        help="joblib backend (default threads; dask when --scheduler is given)",
    )
    p.add_argument("--scheduler", help="dask scheduler address (implies --backend dask)")
    p.add_argument("--max-memory", type=float, help="memory the run may use, in GiB")
    _add_no_disk_check(p)
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    _add_report_plotly(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--allow-code", action="store_true", help=_ALLOW_CODE_HELP)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "optimize-band",
        help="search the band width that maximises the certainty equivalent, across costs",
    )
    p.add_argument("scenario", help="scenario TOML file or bundled name")
    p.add_argument("--policy", help="the threshold policy to optimise (default: the first)")
    p.add_argument("--costs", help="proportional costs in bp, comma list (default 1,2,5,10,20,50)")
    p.add_argument("--paths", type=int, help="number of paths (overrides [simulation].n_paths)")
    p.add_argument("--seed", type=int, help="root seed (overrides [simulation].seed)")
    p.add_argument("--jobs", type=int, default=1, help="workers; results do not depend on it")
    p.add_argument(
        "--out",
        help="folder for band_theory.csv, band_curves.csv and band_theory.html (the band "
        "against the cube-root formula, log-log)",
    )
    p.set_defaults(func=_cmd_optimize_band)

    p = sub.add_parser("validate", help="check a scenario and its data without running it")
    p.add_argument(
        "scenario",
        nargs="?",
        help="scenario TOML file or bundled name (default: the bundled 60/40)",
    )
    p.add_argument(
        "--paths", type=int, help="number of paths for the estimates (overrides n_paths)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="workers the memory and time estimates assume (default 1; -1 for all cores)",
    )
    p.add_argument(
        "--out",
        help="results folder of the run: check that its disk has the space the run writes",
    )
    p.add_argument("--allow-code", action="store_true", help=_ALLOW_CODE_HELP)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("fit", help="fit a model to history and compare it with the history")
    p.add_argument(
        "data", help="bundled dataset name (shiller, ff3, damodaran) or a CSV/Parquet file"
    )
    p.add_argument(
        "--model", required=True, help="model kind: gaussian, student_t, bootstrap, garch, regime"
    )
    p.add_argument("--columns", help="comma-separated columns to fit (default: all)")
    p.add_argument("--start", help="first date, such as 1926-07")
    p.add_argument("--end", help="last date")
    p.add_argument(
        "--kind",
        choices=["returns", "prices"],
        default="returns",
        help="whether the file holds returns per period or price levels (default returns)",
    )
    p.add_argument("--steps-per-year", type=int, help="simulation steps per year for the check")
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="model option, repeatable (estimator=ledoit_wolf)",
    )
    p.add_argument("--paths", type=int, default=2000, help="simulated histories for the check")
    p.add_argument("--seed", type=int, default=0, help="seed of the check's simulations")
    p.add_argument("--out", help="folder for fit.json, model_check.csv and model_check.html")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("data", help="list the bundled datasets, or describe one")
    p.add_argument("name", nargs="?", help="dataset to describe (default: list them all)")
    p.add_argument(
        "--kind",
        choices=["returns", "prices"],
        default="returns",
        help="describe returns per period or price levels (levels: shiller_levels)",
    )
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("scenarios", help="list the bundled scenario files")
    p.set_defaults(func=_cmd_scenarios)

    p = sub.add_parser(
        "schema",
        help="write the JSON Schema of scenario files (for editors such as Even Better TOML)",
    )
    p.add_argument("--out", help="file to write (default: print it)")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("stresses", help="list the bundled historical episodes for [[stresses]]")
    p.set_defaults(func=_cmd_stresses)

    p = sub.add_parser(
        "backtest",
        help="run a scenario's policies on every rolling window of its data (history itself)",
    )
    p.add_argument("scenario", nargs="?", help="scenario TOML file or bundled name")
    p.add_argument("--out", required=True, help="results folder (created if needed)")
    p.add_argument("--jobs", type=int, help="workers (default 1); results do not depend on it")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--allow-code", action="store_true", help=_ALLOW_CODE_HELP)
    p.set_defaults(func=_cmd_backtest)
    return parser


# Local workers beyond this many per core only add memory (each holds its own block
# buffers): the kernels are compute-bound, so a larger `--jobs` is a mistake, not a setting.
_JOBS_PER_CORE = 4


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad option values before anything runs or is created; settle the backend.

    Each error names the flag and says what is allowed. ``--scheduler`` without
    ``--backend`` selects the dask backend (said on stderr); with another backend it is
    refused rather than ignored.

    Raises
    ------
    ConfigError
        For a value no run could use.
    """
    paths = getattr(args, "paths", None)
    if paths is not None and paths < 1:
        raise ConfigError(f"`--paths` must be a whole number >= 1; got {paths}.")
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise ConfigError(
            f"`--seed` must be a whole number >= 0; got {seed}. Any non-negative integer "
            "works, such as --seed 1."
        )
    max_memory = getattr(args, "max_memory", None)
    if max_memory is not None and not (math.isfinite(max_memory) and max_memory > 0):
        raise ConfigError(
            f"`--max-memory` must be a positive, finite number of GiB, such as 8; got "
            f"{max_memory}. Leave it out to use the memory available now."
        )
    if hasattr(args, "scheduler"):
        if args.scheduler and args.backend is None:
            args.backend = "dask"
            print("mcsim: --scheduler given: using --backend dask.", file=sys.stderr)
        elif args.scheduler and args.backend != "dask":
            raise ConfigError(
                f"`--scheduler` sends blocks to a Dask cluster, but `--backend {args.backend}` "
                "runs them on this machine; use --backend dask or drop --scheduler."
            )
        elif args.backend is None:
            args.backend = "threads"
    jobs = getattr(args, "jobs", None)
    if jobs is not None:
        if jobs == 0 or jobs < -1:
            raise ConfigError(
                f"`--jobs` must be a number of workers >= 1, or -1 for one per core; got {jobs}."
            )
        cores = os.cpu_count() or 1
        limit = _JOBS_PER_CORE * cores
        if getattr(args, "backend", None) != "dask" and jobs > limit:
            raise ConfigError(
                f"`--jobs {jobs}` is far more workers than this machine's {cores} core(s): "
                f"beyond the cores they only add memory. Use at most {limit}, or -1 for one "
                "per core."
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mcsim`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_args(args)
        code = int(args.func(args) or 0)
        # Flush here, so a closed pipe is reported by the handler below rather than by the
        # interpreter at exit.
        sys.stdout.flush()
        return code
    except McsimError as e:
        print(f"mcsim: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        print(
            "mcsim: interrupted; finished blocks are kept and a rerun resumes from them.",
            file=sys.stderr,
        )
        return 130


def _stdout_closed() -> int:
    """Exit quietly when the reader of stdout went away (``mcsim run ... | head``).

    Output still buffered would fail again when the interpreter flushes it at exit, so
    stdout is pointed at the null device first (the recipe of Python's ``signal`` docs).
    The status is the shell's for a process ended by SIGPIPE, as other tools give.
    """
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
