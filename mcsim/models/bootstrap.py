"""Historical simulation: resampling whole periods of history (i.i.d. or stationary blocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from .._validation import as_float, as_int, as_str, check_keys
from ..errors import ConfigError
from ..kernels._bootstrap import bootstrap_iid_nb, bootstrap_stationary_nb
from .base import ReturnModel, check_history, history_info

__all__ = ["BootstrapModel", "auto_block_length"]

METHODS = ("iid", "stationary")
# Fewest periods of history to resample.
MIN_ROWS = 12


def auto_block_length(returns: np.ndarray) -> tuple[float, list[float]]:
    """Mean block length for the stationary bootstrap, chosen from the data.

    :func:`arch.bootstrap.optimal_block_length` (Politis and White 2004, with the
    correction of Patton, Politis and White 2009) gives a length per series; the model uses
    their mean, at least 1.

    Parameters
    ----------
    returns : ndarray of shape (n_obs, n_series)
        Simple returns per period.

    Returns
    -------
    (float, list of float)
        The block length in periods and the per-series values it averages.
    """
    from arch.bootstrap import optimal_block_length

    per_series = optimal_block_length(np.asarray(returns, dtype=float))["stationary"]
    values = [float(v) for v in per_series]
    return max(1.0, float(np.mean(values))), values


class BootstrapModel(ReturnModel):
    r"""Historical simulation: each simulated period is a whole period of history.

    Rows of the history (every series of one period together) are resampled, so the
    cross-series structure of each period (correlations, joint crashes, the inflation of that
    month) is kept exactly and nothing is assumed about the shape of returns.

    ``method="iid"`` draws each period independently and uniformly from the history.
    ``method="stationary"`` is the stationary bootstrap of Politis and Romano (1994): a path
    starts at a uniform random period and at each step either moves on to the next period of
    history (probability :math:`1 - 1/L`) or jumps to a new uniform random period
    (probability :math:`1/L`), wrapping around from the last period to the first. Blocks of
    consecutive history have geometric lengths with mean :math:`L`, which keeps short-range
    dependence (momentum, volatility clustering) that the i.i.d. draw breaks.

    The simulation step must equal the data's period: a bootstrap cannot split an annual
    return into months. Finer data (daily) is compounded to the step before fitting.

    Parameters
    ----------
    method : {"iid", "stationary"}
        Resampling scheme (default ``"stationary"``).
    block_length : float or "auto", optional
        Mean block length ``L`` in periods (>= 1), stationary method only. ``"auto"`` (the
        default) takes the mean over series of
        :func:`arch.bootstrap.optimal_block_length`'s ``"stationary"`` column.
    assets : sequence of str, optional
        Expected data columns, in order; checked by :meth:`fit`.
    history : pandas.DataFrame, optional
        Simple returns per period to resample, given directly (fits the model at once).
    periods_per_year : int, optional
        Periods of ``history`` per year; required with ``history``.

    Attributes
    ----------
    history_ : ndarray of shape (n_obs, n_series)
        The simple returns resampled.
    block_length_ : float or None
        Mean block length used (None for i.i.d.).
    periods_per_year_ : int
    mu_, cov_ : ndarray
        Annual moments of the history in the Gaussian convention (mean log return per year
        plus half the variance; annual covariance of log returns), for policies and costs that
        need them. The simulation does not use them.
    """

    kind = "bootstrap"
    _KEYS = ("kind", "method", "block_length", "assets", "fit")

    def __init__(
        self,
        method: str = "stationary",
        block_length: float | str | None = None,
        *,
        assets: Sequence[str] | None = None,
        history: pd.DataFrame | None = None,
        periods_per_year: int | None = None,
    ) -> None:
        where = "[model]"
        self.method = as_str(method, f"{where}.method", choices=METHODS)
        if self.method == "iid":
            if block_length is not None:
                raise ConfigError(
                    f'`{where}.block_length` applies to method = "stationary" only; remove it '
                    'or set method = "stationary".'
                )
        elif block_length is None or block_length == "auto":
            block_length = "auto"
        elif isinstance(block_length, str):
            raise ConfigError(
                f'`{where}.block_length` must be a number of periods (>= 1) or "auto"; got '
                f"{block_length!r}."
            )
        else:
            block_length = as_float(block_length, f"{where}.block_length", low=0.0, low_open=True)
            if block_length < 1.0:
                raise ConfigError(
                    f"`{where}.block_length` is a mean number of periods per block and must be "
                    f'>= 1; got {block_length:g}. Use 1 for no blocks, or method = "iid".'
                )
        self.block_length = block_length
        if assets is not None and (
            not isinstance(assets, (list, tuple)) or not all(isinstance(a, str) for a in assets)
        ):
            raise ConfigError(f"`{where}.assets` must be a list of names.")
        self.assets = None if assets is None else list(assets)
        self.names_: list[str] = []
        self.fit_info_: dict[str, Any] = {}
        if history is not None:
            if periods_per_year is None:
                raise ConfigError(
                    "`periods_per_year` is required with `history` (12 for monthly returns)."
                )
            self.fit(history, periods_per_year=periods_per_year)
        elif periods_per_year is not None:
            raise ConfigError("`periods_per_year` is given without `history`.")

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        """Build the model from its scenario section.

        Keys: ``method``, ``block_length``, ``assets`` and ``fit`` (a record of a previous fit,
        as written by :meth:`params`; informational). The history is the scenario's
        ``[data]``.
        """
        check_keys(section, cls._KEYS, where)
        fit = section.get("fit")
        if fit is not None and not isinstance(fit, Mapping):
            raise ConfigError(f"`{where}.fit` must be a table (it records how a model was fitted).")
        return cls(
            method=section.get("method", "stationary"),
            block_length=section.get("block_length"),
            assets=section.get("assets"),
        )

    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Keep the history to resample (and choose the block length when ``"auto"``).

        Parameters
        ----------
        returns : pandas.DataFrame
            Simple returns per period (fractions), one column per series.
        periods_per_year : int
            Periods of the data in a year; the simulation must use as many steps per year.

        Returns
        -------
        self
        """
        ppy = as_int(periods_per_year, "periods_per_year", low=1)
        x = check_history(returns, MIN_ROWS, self.kind)
        names = [str(c) for c in returns.columns]
        if self.assets is not None and self.assets != names:
            raise ConfigError(
                f"`[model].assets` ({', '.join(self.assets)}) does not match the data's columns "
                f"({', '.join(names)}); select the columns with `[data].columns` or fix `assets`."
            )
        info = history_info(returns, ppy)
        if self.method == "stationary":
            if self.block_length == "auto":
                length, per_series = auto_block_length(x)
                info["block_length"] = "auto"
                info["block_length_per_series"] = per_series
            else:
                length = float(self.block_length)
                info["block_length"] = "given"
            self.block_length_: float | None = length
        else:
            self.block_length_ = None
        logx = np.log1p(x)
        cov = np.atleast_2d(np.cov(logx, rowvar=False, ddof=1)) * ppy
        self.mu_ = logx.mean(axis=0) * ppy + 0.5 * np.diag(cov)
        self.cov_ = cov
        self.history_ = np.ascontiguousarray(x)
        self.periods_per_year_ = ppy
        self.names_ = names
        self.fit_info_ = info
        return self

    def check_steps(self, steps_per_year: int) -> None:
        """Raise ConfigError unless the simulation step equals the data's period."""
        ppy = self.periods_per_year_
        if steps_per_year == ppy:
            return
        if steps_per_year > ppy:
            raise ConfigError(
                f"The bootstrap resamples whole periods of history and cannot split the data's "
                f"{ppy} period(s) per year into {steps_per_year} steps per year. Set "
                f"`[simulation].steps_per_year = {ppy}`, or use finer data."
            )
        raise ConfigError(
            f"The bootstrap needs the simulation step to equal the data's period: the data has "
            f"{ppy} periods per year and the simulation {steps_per_year} steps per year. Set "
            f"`[simulation].steps_per_year = {ppy}`, or resample the data to {steps_per_year} "
            "periods per year (mcsim.data.resample_returns)."
        )

    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        self.check_steps(steps_per_year)
        if self.block_length_ is None:
            bootstrap_iid_nb(rng, self.history_, out)
        else:
            bootstrap_stationary_nb(rng, self.history_, 1.0 / self.block_length_, out)

    def params(self) -> dict[str, Any]:
        """Method, block length, series and the history's extent (not the data itself)."""
        self.check_fitted()
        out: dict[str, Any] = {"kind": self.kind, "method": self.method}
        if self.block_length_ is not None:
            out["block_length"] = self.block_length_
        out["assets"] = self.series_names
        out["fit"] = dict(self.fit_info_)
        return out
