"""What every return model provides to the engine."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError


class ReturnModel(ABC):
    """A model of simple returns per step for several series (assets and, optionally, inflation).

    A model is built from explicit parameters or fitted with :meth:`fit` (scikit-learn style:
    returns ``self``, fitted attributes end in ``_``). The engine then calls
    :meth:`simulate_into` once per chunk of a block with that block's own generator.
    """

    kind: ClassVar[str] = ""
    # Names of the simulated series, set by a fit or by explicit parameters.
    names_: list[str] = []  # noqa: RUF012 - replaced, never mutated, by subclasses

    @classmethod
    @abstractmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        """Build the model from its scenario section (options only; fitting comes later)."""

    @property
    def needs_history(self) -> bool:
        """True when the model must be fitted to data before it can simulate."""
        return not self.names_

    @abstractmethod
    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Fit to a DataFrame of simple returns per period (one column per series)."""

    @property
    def series_names(self) -> list[str]:
        """Names of the simulated series, in column order (empty until fitted or given)."""
        return list(self.names_)

    @abstractmethod
    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        """Fill ``out`` of shape (n_paths, n_steps, n_series) with simple returns per step.

        Draws must be made path by path from ``rng`` so that a block simulated in chunks
        equals the block simulated at once.
        """

    def copy(self) -> Self:
        """An independent copy: fitting or simulating with it leaves this model unchanged.

        The engine fits and simulates copies, so a scenario's model is never changed by a
        run. Subclasses holding state that a deep copy cannot duplicate override this.
        """
        return copy.deepcopy(self)

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Parameters as plain JSON-able Python objects (for manifests and ``mcsim fit``)."""

    def check_fitted(self) -> None:
        """Raise ConfigError when parameters are neither given nor fitted."""
        if not self.series_names:
            raise ConfigError(
                f"The {self.kind!r} model has no parameters: fit it to data (a [data] section "
                "or model.fit(returns)) or give its parameters explicitly."
            )

    def simulate(
        self,
        n_paths: int,
        n_steps: int,
        steps_per_year: int,
        *,
        seed: int | np.random.SeedSequence | None = None,
    ) -> np.ndarray:
        """Simulated simple returns of shape (n_paths, n_steps, n_series) (a convenience)."""
        self.check_fitted()
        out = np.empty((n_paths, n_steps, len(self.series_names)))
        self.simulate_into(np.random.default_rng(seed), out, steps_per_year)
        return out


def history_info(returns: pd.DataFrame, periods_per_year: int) -> dict[str, Any]:
    """What a fit records of its history: rows, periods per year, first and last date."""
    info: dict[str, Any] = {
        "n_obs": int(returns.shape[0]),
        "periods_per_year": int(periods_per_year),
    }
    if isinstance(returns.index, pd.DatetimeIndex) and len(returns.index):
        info["start"] = returns.index[0].strftime("%Y-%m-%d")
        info["end"] = returns.index[-1].strftime("%Y-%m-%d")
    return info


def check_history(returns: pd.DataFrame, min_rows: int, model: str) -> np.ndarray:
    """Returns as a float array, with DataError when there are too few rows or bad values."""
    if not isinstance(returns, pd.DataFrame):
        raise DataError(
            f"The {model} model is fitted to a pandas DataFrame of returns; got "
            f"{type(returns).__name__}."
        )
    x = returns.to_numpy(dtype=float)
    if x.shape[0] < min_rows:
        raise DataError(
            f"The {model} model needs at least {min_rows} rows of returns for "
            f"{x.shape[1]} series; the data has {x.shape[0]}. Use a longer history "
            "(an earlier `start`) or fewer assets."
        )
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"Column {returns.columns[col]!r} has a missing or non-finite value at row {row} "
            f"({returns.index[row]}); drop or fill those rows before fitting."
        )
    if (x <= -1.0).any():
        row, col = np.argwhere(x <= -1.0)[0]
        raise DataError(
            f"Column {returns.columns[col]!r} has a simple return <= -100% at row {row} "
            f"({returns.index[row]}); check that the data are returns as fractions."
        )
    return x


def psd_cholesky(cov: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """Lower-triangular ``L`` with ``L @ L.T == cov`` for a positive semi-definite ``cov``.

    Unlike :func:`numpy.linalg.cholesky` it accepts singular matrices (a riskless asset,
    perfectly correlated series): a pivot below ``rtol`` times the largest variance gives a
    zero column.
    """
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[0]
    L = np.zeros_like(cov)
    tol = rtol * max(float(np.max(np.diag(cov))), 0.0)
    for j in range(n):
        d = cov[j, j] - L[j, :j] @ L[j, :j]
        if d <= tol:
            if d < -1e-8 * max(1.0, cov[j, j]):
                raise ConfigError(
                    "The covariance matrix is not positive semi-definite; check the "
                    "volatilities and correlations."
                )
            continue
        L[j, j] = np.sqrt(d)
        L[j + 1 :, j] = (cov[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]) / L[j, j]
    return L
