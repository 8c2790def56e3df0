"""The asymptotic no-trade band and the power-law fit (mcsim.band_theory)."""

from __future__ import annotations

import numpy as np
import pytest

from mcsim.band_theory import (
    fit_power_law,
    merton_weight,
    merton_weight_two_assets,
    no_trade_half_width,
)
from mcsim.errors import ConfigError, DataError


def test_half_width_scales_exactly_as_the_cube_root_of_the_cost():
    costs = np.array([1e-5, 1e-4, 1e-3, 1e-2])
    h = no_trade_half_width(costs, 3.0, 0.6)
    assert np.allclose(h[1:] / h[:-1], 10.0 ** (1.0 / 3.0), rtol=1e-14)
    assert no_trade_half_width(8e-3, 3.0, 0.6) == pytest.approx(
        2.0 * no_trade_half_width(1e-3, 3.0, 0.6), rel=1e-14
    )
    assert no_trade_half_width(0.0, 3.0, 0.6) == 0.0


def test_half_width_known_values():
    # By hand: gamma = 2, pi* = 1/2, eps = 1 %: (3/4 * 0.01 * 1/16)^(1/3) = 0.0776808...
    assert no_trade_half_width(0.01, 2.0, 0.5) == pytest.approx(0.07768081264884648, rel=1e-14)
    # gamma = 5, mu - r = 8 %, sigma = 16 %: pi* = 0.625; 10 bps: (0.3e-3 * 0.234375^2)^(1/3).
    pi = merton_weight(0.08, 0.16, 5.0)
    assert pi == pytest.approx(0.625, rel=1e-14)
    assert no_trade_half_width(0.001, 5.0, pi) == pytest.approx(0.025447665155577254, rel=1e-13)


def test_half_width_equals_the_spread_form_of_the_paper():
    # Gerhold et al. state the band with a relative bid-ask spread s (bid = (1 - s) ask):
    # h = (3 / (4 gamma) * s * pi^2 (1 - pi)^2)^(1/3); a cost eps per side is s = 2 eps.
    for gamma, pi, eps in ((1.0, 0.5, 1e-3), (3.0, 0.3, 5e-4), (10.0, 0.9, 2e-3)):
        spread = 2.0 * eps
        paper = (3.0 / (4.0 * gamma) * spread * pi**2 * (1.0 - pi) ** 2) ** (1.0 / 3.0)
        assert no_trade_half_width(eps, gamma, pi) == pytest.approx(paper, rel=1e-14)


def test_half_width_symmetry_risk_aversion_and_both_legs():
    assert no_trade_half_width(1e-3, 3.0, 0.3) == pytest.approx(
        no_trade_half_width(1e-3, 3.0, 0.7), rel=1e-14
    )
    assert no_trade_half_width(1e-3, 3.0, 0.0) == 0.0
    assert no_trade_half_width(1e-3, 3.0, 1.0) == 0.0
    assert no_trade_half_width(1e-3, 8.0, 0.5) == pytest.approx(
        no_trade_half_width(1e-3, 1.0, 0.5) / 2.0, rel=1e-14
    )
    assert no_trade_half_width(1e-3, 3.0, 0.5, bond_cost=1e-3) == pytest.approx(
        no_trade_half_width(2e-3, 3.0, 0.5), rel=1e-14
    )


def test_two_asset_merton_weight_reduces_to_one_asset_with_a_riskless_bond():
    pi, sigma_d = merton_weight_two_assets(0.07, 0.02, 0.18, 0.0, 0.0, 4.0)
    assert pi == pytest.approx(merton_weight(0.07, 0.18, 4.0, rate=0.02), rel=1e-14)
    assert sigma_d == pytest.approx(0.18, rel=1e-14)
    # A risky bond: the weight maximises mean - gamma/2 variance (checked on a fine grid).
    mu_s, mu_b, s_s, s_b, rho, g = 0.07, 0.03, 0.17, 0.06, 0.2, 3.0
    pi, _ = merton_weight_two_assets(mu_s, mu_b, s_s, s_b, rho, g)
    grid = np.linspace(0, 1, 100_001)
    var = grid**2 * s_s**2 + (1 - grid) ** 2 * s_b**2 + 2 * grid * (1 - grid) * rho * s_s * s_b
    best = grid[np.argmax(grid * mu_s + (1 - grid) * mu_b - g / 2 * var)]
    assert pi == pytest.approx(best, abs=2e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cost": -1e-3, "risk_aversion": 3.0, "merton_weight": 0.5}, r"`cost` must be finite"),
        ({"cost": 1e-3, "risk_aversion": 0.0, "merton_weight": 0.5}, r"`risk_aversion` must be >"),
        ({"cost": 1e-3, "risk_aversion": 3.0, "merton_weight": 1.2}, r"`merton_weight` must be <="),
        (
            {"cost": 1e-3, "risk_aversion": 3.0, "merton_weight": 0.5, "bond_cost": -1.0},
            r"`bond_cost` must be >= 0",
        ),
    ],
)
def test_bad_band_inputs_are_refused_naming_the_argument(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        no_trade_half_width(**kwargs)


def test_identical_assets_have_no_band():
    with pytest.raises(ConfigError, match="the band is undefined"):
        merton_weight_two_assets(0.05, 0.05, 0.1, 0.1, 1.0, 3.0)


def test_power_law_fit_recovers_an_exact_exponent():
    costs = np.array([1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    widths = no_trade_half_width(costs, 3.0, 0.6)
    fit = fit_power_law(costs, widths, 0.01 * widths)
    assert fit.slope == pytest.approx(1.0 / 3.0, rel=1e-12)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-18)
    assert fit.dof == 3
    assert np.exp(fit.intercept) == pytest.approx(no_trade_half_width(1.0, 3.0, 0.6), rel=1e-10)


def test_power_law_slope_se_matches_the_spread_of_fits():
    rng = np.random.default_rng(3)
    costs = np.geomspace(1e-4, 1e-2, 6)
    true = no_trade_half_width(costs, 3.0, 0.6)
    se = 0.05 * true
    fits = [fit_power_law(costs, true + rng.normal(0, se), se) for _ in range(2000)]
    slopes = np.array([f.slope for f in fits])
    assert np.std(slopes, ddof=1) == pytest.approx(fits[0].slope_se, rel=0.10)
    assert abs(slopes.mean() - 1.0 / 3.0) < 5 * fits[0].slope_se / np.sqrt(len(fits)) + 1e-3
    z = np.array([f.z_score() for f in fits])
    assert np.mean(np.abs(z) < 1.96) == pytest.approx(0.95, abs=0.03)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([1e-3, 1e-2], [0.1], [0.01, 0.01]), "same length"),
        (([1e-3, 1e-3], [0.1, 0.1], [0.01, 0.01]), "at least 2 distinct"),
        (([0.0, 1e-2], [0.1, 0.2], [0.01, 0.01]), "`costs` must all be positive"),
        (([1e-3, 1e-2], [0.1, 0.2], [0.0, 0.01]), "`width_se` must all be positive"),
        (([1e-3, 1e-2], [np.nan, 0.2], [0.01, 0.01]), "`widths` must all be positive"),
    ],
)
def test_bad_power_law_inputs_are_refused(args, match):
    with pytest.raises(DataError, match=match):
        fit_power_law(*args)
