"""History itself as the scenarios: every rolling window of the data, replayed in order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from .._validation import as_int, check_keys
from ..data.files import _parse_bound
from ..errors import ConfigError, DataError
from .base import ReturnModel, check_history

__all__ = ["HistoricalWindowsModel"]


class HistoricalWindowsModel(ReturnModel):
    r"""A model whose paths are the rolling windows of the data, in the order of their start.

    Path ``k`` is the data from row ``k * step`` on, for as many periods as the horizon needs:
    the 30-year windows of the monthly Shiller data (1,862 months, 1871-02 to 2026-03) are
    1,862 - 360 + 1 = 1,503 paths with ``step = 1``, and 126 with ``step = 12`` (one start a
    year, in the data's first month, February). Every series of a period stays together
    (returns of the assets and the period's inflation), so the paths are history exactly.

    Nothing is random: the engine fills paths with :meth:`windows_into` (the chunk's first
    global path and a buffer) instead of :meth:`simulate_into`, and runs exactly
    :meth:`n_windows` paths. :meth:`simulate_into` refuses, so that no block can silently
    replay the first windows as if they were draws.

    Steps and data periods: with ``steps_per_year`` equal to the data's periods per year a
    step is a period. With finer data whose periods per year are a whole multiple ``f`` of
    ``steps_per_year`` (monthly data, annual steps: ``f = 12``), step ``t`` of the window
    starting at row ``s`` compounds rows ``s + t f, ..., s + t f + f - 1``: windows still start
    at every ``step``-th row (any month), unlike a calendar resampling that would keep only
    January starts. Any other combination is an error.

    Parameters
    ----------
    step : int
        Data rows between the starts of consecutive windows (>= 1; default 1: a window starts
        at every period; 12 with monthly data: one start a year).
    start, end : str, int or date, optional
        First and last dates of the data used (inclusive; ``"1926-07"``, ``1950``,
        ``"2008-01-02"``): every window lies inside them.
    assets : sequence of str, optional
        Expected data columns, in order; checked by :meth:`fit`.
    history : pandas.DataFrame, optional
        Simple returns per period with a DatetimeIndex, given directly (fits the model at once).
    periods_per_year : int, optional
        Periods of ``history`` per year; required with ``history``.

    Attributes
    ----------
    history_ : ndarray of shape (n_obs, n_series)
        The simple returns replayed (after ``start``/``end``).
    dates_ : pandas.DatetimeIndex
        Their dates, as the data label them (period ends for the bundled data sets).
    periods_per_year_ : int
    mu_, cov_ : ndarray
        Annual moments of the history in the Gaussian convention (mean log return per year
        plus half the variance; annual covariance of log returns), for policies and costs that
        need them. The windows do not use them.
    """

    kind = "historical_windows"
    #: The paths are the data's windows: the engine sets n_paths to :meth:`n_windows` and
    #: calls :meth:`windows_into`; there is no random stream to draw from.
    draws_random_numbers: ClassVar[bool] = False
    _KEYS = ("kind", "step", "start", "end", "assets", "fit")

    def __init__(
        self,
        step: int = 1,
        *,
        start: str | int | dt.date | None = None,
        end: str | int | dt.date | None = None,
        assets: Sequence[str] | None = None,
        history: pd.DataFrame | None = None,
        periods_per_year: int | None = None,
        where: str = "[model]",
    ) -> None:
        self.where = where
        self.step = as_int(step, f"{where}.step", low=1)
        self.start = start
        self.end = end
        self._start = self._bound(start, "start")
        self._end = self._bound(end, "end")
        if self._start is not None and self._end is not None and self._start > self._end:
            raise ConfigError(
                f"`{where}.start` ({start}) is after `{where}.end` ({end}); swap them or "
                "widen the range."
            )
        if assets is not None and (
            not isinstance(assets, (list, tuple)) or not all(isinstance(a, str) for a in assets)
        ):
            raise ConfigError(f"`{where}.assets` must be a list of names.")
        self.assets = None if assets is None else list(assets)
        self.names_: list[str] = []
        self.fit_info_: dict[str, Any] = {}
        # Rolling compounded returns per factor f (data periods per step), built on demand.
        self._compounded: dict[int, np.ndarray] = {}
        if history is not None:
            if periods_per_year is None:
                raise ConfigError(
                    "`periods_per_year` is required with `history` (12 for monthly returns)."
                )
            self.fit(history, periods_per_year=periods_per_year)
        elif periods_per_year is not None:
            raise ConfigError("`periods_per_year` is given without `history`.")

    def _bound(self, value: Any, side: str) -> pd.Timestamp | None:
        field = f"{self.where}.{side}"
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif value is not None and not isinstance(value, str | int):
            raise ConfigError(
                f"`{field}` must be a date such as '1926-07', '1950' or '2008-01-02'; got "
                f"{value!r} ({type(value).__name__})."
            )
        try:
            return _parse_bound(value, "start" if side == "start" else "end")
        except ConfigError as e:
            raise ConfigError(f"`{field}`: {e}") from e

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        """Build the model from its scenario section.

        Keys: ``step``, ``start``, ``end``, ``assets`` and ``fit`` (a record of a previous fit,
        as written by :meth:`params`; informational). The data are the scenario's ``[data]``.
        """
        check_keys(section, cls._KEYS, where)
        fit = section.get("fit")
        if fit is not None and not isinstance(fit, Mapping):
            raise ConfigError(f"`{where}.fit` must be a table (it records how a model was fitted).")
        return cls(
            step=section.get("step", 1),
            start=section.get("start"),
            end=section.get("end"),
            assets=section.get("assets"),
            where=where,
        )

    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Keep the dated history (within ``start``/``end``) whose windows are the paths.

        Parameters
        ----------
        returns : pandas.DataFrame
            Simple returns per period (fractions), one column per series, DatetimeIndex.
        periods_per_year : int
            Periods of the data in a year.

        Returns
        -------
        self

        Raises
        ------
        DataError
            No DatetimeIndex, no rows inside ``start``/``end``, missing or non-finite values,
            or returns at or below -100 %.
        ConfigError
            Columns other than ``assets``.
        """
        ppy = as_int(periods_per_year, "periods_per_year", low=1)
        if not isinstance(returns, pd.DataFrame) or not isinstance(returns.index, pd.DatetimeIndex):
            raise DataError(
                "The historical_windows model replays dated history: fit it to a pandas "
                "DataFrame of returns with a DatetimeIndex (as mcsim.load_returns gives)."
            )
        keep = np.ones(len(returns), dtype=bool)
        if self._start is not None:
            keep &= returns.index >= self._start
        if self._end is not None:
            keep &= returns.index <= self._end
        window = returns.loc[keep]
        if window.empty:
            raise DataError(
                f"No data lie between `{self.where}.start` ({self.start}) and "
                f"`{self.where}.end` ({self.end}); the data run from "
                f"{returns.index[0]:%Y-%m-%d} to {returns.index[-1]:%Y-%m-%d}."
            )
        x = check_history(window, 1, self.kind)
        names = [str(c) for c in window.columns]
        if self.assets is not None and self.assets != names:
            raise ConfigError(
                f"`{self.where}.assets` ({', '.join(self.assets)}) does not match the data's "
                f"columns ({', '.join(names)}); select the columns with `[data].columns` or fix "
                "`assets`."
            )
        logx = np.log1p(x)
        if x.shape[0] > 1:
            cov = np.atleast_2d(np.cov(logx, rowvar=False, ddof=1)) * ppy
        else:
            cov = np.zeros((x.shape[1], x.shape[1]))
        self.mu_ = logx.mean(axis=0) * ppy + 0.5 * np.diag(cov)
        self.cov_ = cov
        self.history_ = np.ascontiguousarray(x)
        self.dates_ = pd.DatetimeIndex(window.index)
        self.periods_per_year_ = ppy
        self.names_ = names
        self._compounded = {}
        self.fit_info_ = {
            "n_obs": int(x.shape[0]),
            "periods_per_year": ppy,
            "start": self.dates_[0].strftime("%Y-%m-%d"),
            "end": self.dates_[-1].strftime("%Y-%m-%d"),
        }
        return self

    def periods_per_step(self, steps_per_year: int | None = None) -> int:
        """Data periods compounded into one step (1 when the step is the data's period).

        Raises
        ------
        ConfigError
            Steps finer than the data, or data periods that are not a whole multiple of the
            step.
        """
        self.check_fitted()
        ppy = self.periods_per_year_
        steps = ppy if steps_per_year is None else int(steps_per_year)
        if steps == ppy:
            return 1
        if steps > ppy:
            raise ConfigError(
                f"The historical_windows model replays whole periods of the data and cannot "
                f"split the data's {ppy} period(s) per year into {steps} steps per year. Set "
                f"`[simulation].steps_per_year = {ppy}`, or use finer data."
            )
        if ppy % steps:
            divisors = [d for d in range(1, ppy + 1) if ppy % d == 0]
            raise ConfigError(
                f"`[simulation].steps_per_year` = {steps} does not divide the data's {ppy} "
                f"periods per year, so a step is not a whole number of data periods. Use one "
                f"of {', '.join(map(str, divisors))}."
            )
        return ppy // steps

    def n_windows(self, n_steps: int, steps_per_year: int | None = None) -> int:
        """Number of windows (paths) of ``n_steps`` steps in the data.

        Parameters
        ----------
        n_steps : int
            Steps of the horizon (>= 1).
        steps_per_year : int, optional
            Steps per year of the simulation; default: the data's periods per year.

        Returns
        -------
        int
            ``(n_obs - n_steps * f) // step + 1`` with ``f`` data periods per step.

        Raises
        ------
        DataError
            The data are shorter than the horizon.
        """
        n_steps = as_int(n_steps, "n_steps", low=1)
        f = self.periods_per_step(steps_per_year)
        need = n_steps * f
        n_obs = self.history_.shape[0]
        if n_obs < need:
            ppy = self.periods_per_year_
            bounds = (
                f" (after `{self.where}.start`/`end`)"
                if self._start is not None or self._end is not None
                else ""
            )
            raise DataError(
                f"The data cover {n_obs / ppy:g} years{bounds} and the horizon is "
                f"{need / ppy:g}: no historical window fits. Shorten "
                "`[simulation].horizon_years` or use longer data."
            )
        return (n_obs - need) // self.step + 1

    def window_starts(self, n_steps: int, steps_per_year: int | None = None) -> pd.DatetimeIndex:
        """The date of the first data period of each window, in path order.

        Dates are the data's labels (for the bundled data sets, the end of the period: the
        window starting with February 1871's return is labelled 1871-02-28).

        Returns
        -------
        pandas.DatetimeIndex of length :meth:`n_windows`, named ``"start"``
        """
        n = self.n_windows(n_steps, steps_per_year)
        return pd.DatetimeIndex(self.dates_[np.arange(n) * self.step], name="start")

    def _per_step(self, f: int) -> np.ndarray:
        """Compounded returns of the ``f`` consecutive rows starting at each row."""
        if f == 1:
            return self.history_
        if f not in self._compounded:
            rows = np.lib.stride_tricks.sliding_window_view(1.0 + self.history_, f, axis=0)
            self._compounded[f] = np.ascontiguousarray(np.prod(rows, axis=-1) - 1.0)
        return self._compounded[f]

    def windows_into(self, first: int, out: np.ndarray, steps_per_year: int | None = None) -> None:
        """Fill ``out`` with windows ``first, ..., first + m - 1`` in order.

        Parameters
        ----------
        first : int
            Global index of the first window (the chunk's path offset in the run).
        out : ndarray of shape (m, n_steps, n_series)
            Float64, overwritten with simple returns per step; ``out[i, t]`` is step ``t`` of
            window ``first + i``, which starts at data row ``(first + i) * step``.
        steps_per_year : int, optional
            Steps per year of the simulation; default: the data's periods per year.

        Raises
        ------
        ConfigError
            Windows past the last one, a wrong number of series, or a step the data cannot
            give (see :meth:`periods_per_step`).
        DataError
            The data are shorter than the horizon.
        """
        m, n_steps, n_series = out.shape
        if n_series != len(self.names_):
            raise ConfigError(
                f"`out` has {n_series} series but the model replays {len(self.names_)} "
                f"({', '.join(self.names_)})."
            )
        first = as_int(first, "first", low=0)
        n = self.n_windows(n_steps, steps_per_year)
        if first + m > n:
            raise ConfigError(
                f"Windows {first}..{first + m - 1} were asked for but the data give {n} windows "
                f"of {n_steps} steps (0..{n - 1}); set `[simulation].n_paths` to {n}."
            )
        f = self.periods_per_step(steps_per_year)
        rows = (first + np.arange(m))[:, None] * self.step + f * np.arange(n_steps)[None, :]
        np.take(self._per_step(f), rows, axis=0, out=out)

    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        """Refused: the paths are the data's windows, filled by :meth:`windows_into`.

        Raises
        ------
        ConfigError
            Always.
        """
        raise ConfigError(
            "The historical_windows model has no random draws: its paths are the data's "
            "rolling windows, filled with windows_into(first, out) and counted by "
            "n_windows(n_steps). It cannot stand in for a random model here."
        )

    def params(self) -> dict[str, Any]:
        """Step, date bounds, series and the history's extent (not the data itself)."""
        self.check_fitted()
        out: dict[str, Any] = {"kind": self.kind, "step": self.step}
        if self.start is not None:
            out["start"] = _plain(self.start)
        if self.end is not None:
            out["end"] = _plain(self.end)
        out["assets"] = self.series_names
        out["fit"] = dict(self.fit_info_)
        return out


def _plain(value: Any) -> str | int:
    """A date bound as TOML/JSON can hold it (dates become ISO strings)."""
    return value.isoformat() if isinstance(value, dt.date) else value
