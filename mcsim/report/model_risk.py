"""The model-risk sentence: the tail statistics a run's model check finds history outside.

When history's maximum drawdown, worst 12-month return or kurtosis falls outside the 5-95 %
band of the model's simulations, the CLI summary and the top of the report say so in one
sentence and name the bundled model kinds measured to fit these data better
(:data:`BETTER_FIT`, measured by ``benchmarks/model_risk_default.py``; see
``docs/model_check.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..config import Scenario

__all__ = ["BETTER_FIT", "RISK_STATISTICS", "model_risk", "model_risk_line"]

RISK_STATISTICS = ("max_drawdown", "worst_12m", "excess_kurtosis")
"""The tail statistics of the model check whose misfit the summary and the report warn about."""


_RISK_LABELS = {
    "max_drawdown": "maximum drawdown",
    "worst_12m": "worst 12-month return",
    "excess_kurtosis": "excess kurtosis",
}
# Kinds built to reproduce fat tails, volatility clustering and deep drawdowns, named when the
# data have not been measured (see BETTER_FIT).
_TAIL_KINDS = ("bootstrap", "garch", "regime", "student_t")

BETTER_FIT: Mapping[tuple[str, str | None], tuple[str, ...]] = {
    # Shiller since 1871, monthly (the default scenario's data): measured by
    # benchmarks/model_risk_default.py, table in docs/model_check.md.
    ("shiller", None): ("bootstrap",),
}
"""Model kinds measured to reproduce the tail statistics better than the Gaussian, per data
(``[data].source``, ``[data].start``), best first."""


def model_risk(
    table: pd.DataFrame,
    better: Sequence[str] = (),
    *,
    skip_series: Sequence[str] = (),
    kind: str | None = None,
) -> str | None:
    """One sentence of model risk: the tail statistics history falls outside the band for.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`model_check` table.
    better : sequence of str
        Model kinds that fit these data better (named in the sentence); when empty, the
        kinds built for fat tails and clustering are named instead (but ``kind``).
    skip_series : sequence of str
        Series not invested (the inflation series: its "drawdown" is deflation), left out.
    kind : str, optional
        The checked model's kind, never named as a better one.

    Returns
    -------
    str or None
        None when history is inside the simulated 5-95 % band for every statistic of
        :data:`RISK_STATISTICS` (and every series); else the sentence, naming each statistic
        outside with history's value and the band (fractions in percent, kurtosis as is).
    """
    parts = []
    for stat in RISK_STATISTICS:
        if stat not in table.index.get_level_values(0):
            continue
        rows = table.loc[stat]
        rows = rows[~rows.index.isin(list(skip_series))]
        outside = rows[~rows["inside_90"].astype(bool)]
        if outside.empty:
            continue
        series, row = next(iter(outside.iterrows()))
        if stat == "excess_kurtosis":
            values = f"{row['history']:.1f} vs {row['sim_p05']:.1f} to {row['sim_p95']:.1f}"
        else:
            values = (
                f"{100 * row['history']:.0f} % vs {100 * row['sim_p05']:.0f} to "
                f"{100 * row['sim_p95']:.0f} %"
            )
        more = f", and {len(outside) - 1} more series" if len(outside) > 1 else ""
        parts.append(f"{_RISK_LABELS[stat]} ({series} {values}{more})")
    if not parts:
        return None
    model = table.attrs.get("model", "the")
    if better:
        advice = f"models that fit these data better: {', '.join(better)}"
    else:
        kinds = [k for k in _TAIL_KINDS if k != kind]
        advice = f"models built for such tails, to check first: {', '.join(kinds)}"
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (
        f"Model risk: history's {listed} {'falls' if len(parts) == 1 else 'fall'} outside the "
        f"5-95 % band of the {model} model's "
        f"simulations, so it understates such tails; {advice} (see docs/model_check.md)."
    )


def model_risk_line(scenario: Scenario, check: pd.DataFrame | str | None) -> str | None:
    """The model-risk sentence of a run (None when its model check flags no tail statistic).

    Parameters
    ----------
    scenario : Scenario
        The run's scenario: its data name the models measured to fit them better
        (:data:`BETTER_FIT`; the run's own kind is left out).
    check : pandas.DataFrame, str or None
        The run's model check (:attr:`SimulationResult.model_check`); no table, no sentence.
    """
    if not isinstance(check, pd.DataFrame):
        return None
    data = scenario.data
    key = (str(data.source), data.start) if data is not None else None
    kind = scenario.model.kind if scenario.model is not None else None
    better = [k for k in BETTER_FIT.get(key, ()) if k != kind]
    skip = [data.inflation] if data is not None and data.inflation else []
    return model_risk(check, better, skip_series=skip, kind=kind)
