"""The ``mcsim`` command line: run scenarios, fit models, list data and scenarios."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .errors import ConfigError, McsimError

__all__ = ["main"]

_SUMMARY_COLUMNS = [
    ("terminal_wealth", "mean", "mean wealth", "money"),
    ("terminal_wealth", "p05", "p5 wealth", "money"),
    ("terminal_wealth", "p50", "median", "money"),
    ("terminal_wealth", "p95", "p95 wealth", "money"),
    ("cagr", "mean", "CAGR", "pct"),
    ("volatility", "mean", "vol", "pct"),
    ("max_drawdown", "p50", "median maxDD", "pct"),
    ("max_drawdown", "p95", "p95 maxDD", "pct"),
    ("turnover", "mean", "turnover/yr", "pct"),
    ("costs", "mean", "costs", "money"),
    ("loss", "mean", "P(loss)", "pct"),
]


def _fmt(x: float, kind: str) -> str:
    if pd.isna(x):
        return "-"
    if kind == "pct":
        return f"{100 * x:.2f}%"
    if kind == "signed_money":
        return f"{x:+,.0f}"
    return f"{x:,.0f}"


def summary_table(result) -> pd.DataFrame:
    """The table ``mcsim run`` prints: one row per policy, formatted."""
    s = result.summary
    rows = {}
    for pol in result.policy_names:
        rows[pol] = {
            label: _fmt(s.loc[(pol, m), stat], kind) for m, stat, label, kind in _SUMMARY_COLUMNS
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")


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
            "95% CI": f"[{tw['ci95_low']:+,.0f}, {tw['ci95_high']:+,.0f}]",
            "P(more wealth)": _fmt(tw["prob_higher"], "pct"),
            "CAGR diff": f"{100 * cagr['mean_diff']:+.3f}pp",
            "maxDD diff": f"{100 * dd['mean_diff']:+.2f}pp",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(f"vs {result.baseline}")


def _resolve_scenario(arg: str | None) -> Path:
    from .scenarios import bundled_scenarios, default_scenario_path, scenario_path

    if arg is None:
        return default_scenario_path()
    p = Path(arg)
    if p.exists() or p.suffix == ".toml":
        return p
    if arg in bundled_scenarios():
        return scenario_path(arg)
    close = difflib.get_close_matches(arg, bundled_scenarios(), n=1)
    hint = f" Did you mean the bundled scenario {close[0]!r}?" if close else ""
    raise ConfigError(
        f"Scenario file {arg!r} does not exist and is not a bundled scenario.{hint} "
        "`mcsim scenarios` lists the bundled ones."
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from .config import Scenario
    from .engine import run
    from .output import checkpoint_warnings_as_lines

    path = _resolve_scenario(args.scenario)
    scenario = Scenario.from_toml(path)
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
                report=not args.no_report,
                out_name="--out",
                backend=backend,
                max_memory=None if args.max_memory is None else int(args.max_memory * 2**30),
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
        if len(result.policy_names) > 1:
            print()
            print(comparison_table(result).to_string())
    print()
    print(f"Wrote {len(files)} files to {out}/: " + ", ".join(p.name for p in files.values()))
    return 0


def _dask_client(address: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise McsimError(
            "--backend dask needs dask.distributed: pip install 'mcsim-rebalance[dask]'."
        ) from e
    if address:
        return Client(address)
    return Client(LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1))


def _cmd_validate(args: argparse.Namespace) -> int:
    from .config import Scenario
    from .engine import estimate_memory, prepare

    scenario = Scenario.from_toml(_resolve_scenario(args.scenario))
    if args.paths is not None:
        scenario = scenario.replace(n_paths=args.paths)
    plan = prepare(scenario)
    sim = scenario.simulation
    print(f"{scenario.name}: valid.")
    print(f"  assets: {', '.join(plan.asset_names)}")
    print(f"  model: {plan.model.kind}; policies: {', '.join(p.name for p in plan.policies)}")
    print(f"  {sim.n_paths:,} paths x {sim.n_steps} steps in {sim.n_blocks} block(s)")
    mib = estimate_memory(plan, args.jobs) / 2**20
    print(f"  estimated peak memory: {mib:,.0f} MiB with {args.jobs} worker(s)")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from .diagnostics import fit_command

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


def _cmd_data(args: argparse.Namespace) -> int:
    from .data import list_datasets, load_returns

    if args.name is None:
        with pd.option_context("display.width", 200, "display.max_colwidth", 60):
            print(list_datasets().to_string(index=False))
        return 0
    df = load_returns(args.name, kind=args.kind)
    print(f"{args.name}: {len(df):,} rows, {df.index[0].date()} .. {df.index[-1].date()}")
    with pd.option_context("display.width", 200):
        print(df.describe().T.to_string())
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    import tomllib

    from .scenarios import bundled_scenarios, scenario_path

    for name in bundled_scenarios():
        with scenario_path(name).open("rb") as f:
            desc = tomllib.load(f).get("description", "")
        print(f"{name:28s} {desc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

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
        "--backend", choices=["threads", "loky", "dask"], default="threads", help="joblib backend"
    )
    p.add_argument(
        "--scheduler", help="dask scheduler address (with --backend dask; default: a local cluster)"
    )
    p.add_argument(
        "--max-memory",
        type=float,
        help="memory the run may use, in GiB (default: available memory)",
    )
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("validate", help="check a scenario and its data without running it")
    p.add_argument("scenario", nargs="?")
    p.add_argument("--paths", type=int)
    p.add_argument("--jobs", type=int, default=1)
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
    p.add_argument("--kind", choices=["returns", "prices"], default="returns")
    p.add_argument("--steps-per-year", type=int, help="simulation steps per year for the check")
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="model option, repeatable (estimator=ledoit_wolf)",
    )
    p.add_argument("--paths", type=int, default=2000, help="simulated histories for the check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for fit.json, model_check.csv and model_check.html")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("data", help="list the bundled datasets, or describe one")
    p.add_argument("name", nargs="?")
    p.add_argument("--kind", choices=["returns", "prices"], default="returns")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("scenarios", help="list the bundled scenario files")
    p.set_defaults(func=_cmd_scenarios)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mcsim`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except McsimError as e:
        print(f"mcsim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "mcsim: interrupted; finished blocks are kept and a rerun resumes from them.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
