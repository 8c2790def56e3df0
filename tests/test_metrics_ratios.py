"""Sharpe, Sortino and Calmar ratios per path: the kernel against a plain NumPy twin."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import layout as L

from mcsim import METRICS
from mcsim.policies import BuyAndHold
from mcsim.testing.policies import run_policy

SPY = 12


def _twin(r: np.ndarray) -> dict[str, np.ndarray]:
    """The ratios of each row of per-step returns ``r`` (n_paths, n_steps), by their
    definitions in :data:`mcsim.METRICS`."""
    n = r.shape[1]
    mean_annual = r.mean(axis=1) * SPY
    vol = r.std(axis=1, ddof=1) * np.sqrt(SPY)
    down = np.sqrt(SPY * (np.minimum(r, 0.0) ** 2).sum(axis=1) / n)
    nav = np.cumprod(1.0 + r, axis=1)
    peak = np.maximum.accumulate(np.maximum(nav, 1.0), axis=1)
    mdd = (1.0 - nav / peak).max(axis=1)
    cagr = nav[:, -1] ** (SPY / n) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "sharpe": np.where(vol > 0, mean_annual / vol, np.nan),
            "sortino": np.where(down > 0, mean_annual / down, np.nan),
            "calmar": np.where(mdd > 0, cagr / mdd, np.nan),
        }


def _kernel(r: np.ndarray) -> np.ndarray:
    """Metrics of buy and hold of one asset with returns ``r``: its unit value moves by r."""
    return run_policy(BuyAndHold(name="bh"), r[:, :, None], target=[1.0], steps_per_year=SPY)


def test_ratios_match_the_numpy_twin_on_random_paths():
    rng = np.random.default_rng(7)
    r = rng.normal(0.006, 0.045, size=(200, 120))
    m = _kernel(r)
    twin = _twin(r)
    for name, col in (("sharpe", L.M_SHARPE), ("sortino", L.M_SORTINO), ("calmar", L.M_CALMAR)):
        np.testing.assert_allclose(m[:, col], twin[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_sharpe_estimates_the_model_ratio_within_its_standard_error():
    """IID normal returns: the mean over paths of the per-path Sharpe ratio is mu sqrt(f) /
    sigma up to its bias (about 1 + 3/(4(n-1)) for n steps) and its standard error."""
    mu, sigma, n, paths = 0.005, 0.04, 240, 2000
    rng = np.random.default_rng(11)
    m = _kernel(rng.normal(mu, sigma, size=(paths, n)))
    sharpe = m[:, L.M_SHARPE]
    expected = mu / sigma * np.sqrt(SPY) * (1 + 3 / (4 * (n - 1)))
    se = sharpe.std(ddof=1) / np.sqrt(paths)
    assert abs(sharpe.mean() - expected) < 4 * se


def test_undefined_ratios_are_nan_and_ruin_gives_calmar_minus_one():
    flat = np.zeros((1, 24))
    m = _kernel(flat)
    assert np.isnan(m[0, [L.M_SHARPE, L.M_SORTINO, L.M_CALMAR]]).all()
    ruined = np.full((1, 24), 0.01)
    ruined[0, 5] = -1.5  # a leveraged-like loss beyond wealth ruins the path
    m = _kernel(ruined)
    assert m[0, L.M_RUINED] == 1.0
    assert m[0, L.M_CALMAR] == -1.0


def test_ratios_are_listed_as_higher_is_better_ratios():
    for name in ("sharpe", "sortino", "calmar"):
        assert METRICS[name].unit == "ratio" and METRICS[name].higher_is_better
    # Each description says what the ratio is measured against.
    for name in ("sharpe", "sortino"):
        assert "[simulation].risk_free (0 without one)" in METRICS[name].description


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(0.1, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_ratios_do_not_depend_on_initial_wealth_and_sharpe_on_return_scale(scale, seed):
    """The ratios are of the unit value: the same for any initial wealth; and scaling every
    return by a positive factor leaves Sharpe and Sortino unchanged."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.004, 0.02, size=(3, 36))
    base = _kernel(r)
    rich = run_policy(
        BuyAndHold(name="bh"), r[:, :, None], target=[1.0], initial_wealth=1e6 * scale
    )
    cols = [L.M_SHARPE, L.M_SORTINO, L.M_CALMAR]
    np.testing.assert_allclose(rich[:, cols], base[:, cols], rtol=1e-12)
    small = _kernel(r * (scale / 10.0))
    np.testing.assert_allclose(small[:, cols[:2]], base[:, cols[:2]], rtol=1e-8)
