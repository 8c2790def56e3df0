"""The model check of each bundled model kind on the default scenario's data, side by side.

Fits every kind (with the options of its bundled 60/40 scenario) to the default scenario's
history (Shiller since 1871, monthly: stocks, bonds and inflation), simulates paths as long
as that history and prints, per kind, how many statistics history falls inside the
simulated 5-95 % band for, and the band of the tail statistics the report's model-risk
sentence watches (maximum drawdown, worst 12-month return, excess kurtosis). The table in
``docs/model_check.md`` is this script's output::

    python benchmarks/model_risk_default.py --paths 1000
"""

from __future__ import annotations

import argparse

import mcsim
from mcsim.errors import ModelFitError
from mcsim.model_check import model_check
from mcsim.models import model_from_config
from mcsim.plan import load_history
from mcsim.report.model_risk import RISK_STATISTICS
from mcsim.scenarios import scenario_path

# Each kind with the options of its bundled 60/40 scenario (fitted here to the default data).
KINDS = {
    "gaussian": {"kind": "gaussian"},
    # Fitted to 1871 on, the t's degrees of freedom fall to their bound: df = 4, as the fit
    # error advises.
    "student_t (df 4)": {"kind": "student_t", "df": 4},
    "bootstrap": {"kind": "bootstrap", "method": "stationary", "block_length": "auto"},
    "regime": {"kind": "regime", "n_regimes": 2, "n_starts": 10, "seed": 0},
    "garch_dcc": {"kind": "garch", "correlation": "dcc", "distribution": "normal"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scenario = mcsim.Scenario.from_toml(scenario_path("default_60_40"))
    history, ppy = load_history(scenario)
    header = "| model | inside 5-95 % | " + " | ".join(
        f"{s} [{k}]: history / band" for s, k in RISK_STATISTICS_SHOWN
    )
    print(header + " |")
    print("|---" * (2 + len(RISK_STATISTICS_SHOWN)) + "|")
    for label, options in KINDS.items():
        model = model_from_config(options, f"[model] ({label})")
        try:
            model.fit(history, periods_per_year=ppy)
        except ModelFitError as e:
            cells = " | ".join(["-"] * len(RISK_STATISTICS_SHOWN))
            print(f"| {label} | not fitted: {str(e).split(':')[0]} | {cells} |")
            continue
        table = model_check(model, history, ppy, n_paths=args.paths, seed=args.seed)
        cells = []
        for key in RISK_STATISTICS_SHOWN:
            row = table.loc[key]
            mark = "" if row["inside_90"] else " **out**"
            cells.append(f"{row['history']:.2f} / {row['sim_p05']:.2f}..{row['sim_p95']:.2f}{mark}")
        n_in = int(table["inside_90"].sum())
        print(f"| {label} | {n_in} of {len(table)} | " + " | ".join(cells) + " |")


# The default scenario's stock series carries the tails; bonds are shown for drawdown only.
RISK_STATISTICS_SHOWN = [
    *((s, "us_stocks_tr") for s in RISK_STATISTICS),
    ("max_drawdown", "us_bonds_10y_tr"),
]

if __name__ == "__main__":
    main()
