"""Stress transforms: exact splices and shocks, statistical vol/correlation, twins, no-ops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mcsim.kernels._stress import (
    drift_rewrite_nb,
    linear_rewrite_nb,
    restore_window_nb,
    scale_rewrite_nb,
    shock_rewrite_nb,
    splice_rewrite_nb,
)

import mcsim
from mcsim.stress import (
    CorrelationStress,
    DriftStress,
    HistoricalEpisode,
    Shock,
    StressContext,
    VolatilityStress,
    apply_stress,
    resolve,
    restore_stress,
    rewrite_stress,
    splice_steps,
)
from mcsim.testing.stress import (
    drift_window_naive,
    linear_window_naive,
    shock_naive,
    splice_naive,
)

SERIES = ["us_stocks_tr", "us_bonds_10y_tr", "cpi_inflation"]
CORR = [[1.0, 0.2, 0.1], [0.2, 1.0, 0.3], [0.1, 0.3, 1.0]]


def _model(kind: str = "gaussian") -> mcsim.GaussianModel:
    args = dict(mu=[0.07, 0.03, 0.025], vol=[0.18, 0.07, 0.012], corr=CORR, names=SERIES)
    if kind == "student_t":
        return mcsim.StudentTModel(**args, df=8.0)
    return mcsim.GaussianModel(**args)


def _ctx(model, n_steps: int = 120, steps_per_year: int = 12, **kw) -> StressContext:
    return StressContext(
        series_names=model.series_names,
        asset_names=model.series_names[:2],
        inflation_index=2,
        steps_per_year=steps_per_year,
        n_steps=n_steps,
        model=model,
        **kw,
    )


def _run(resolved, returns, **kw):
    out = np.empty_like(returns)
    apply_stress(resolved, returns, out, **kw)
    return out


def test_splice_reproduces_the_data_compounded_return_exactly():
    model = _model()
    r = model.simulate(50, 120, 12, seed=3)
    res = resolve(
        HistoricalEpisode(name="gfc", episode="financial_crisis", at_year=2.0), _ctx(model)
    )
    out = _run(res, r)
    months = mcsim.load_dataset("shiller").index.to_period("M")
    shiller = mcsim.load_dataset("shiller")
    data = shiller.loc[
        (months >= pd.Period("2007-11", "M")) & (months <= pd.Period("2009-02", "M"))
    ]
    window = out[:, 24:40]
    for i, name in enumerate(SERIES):
        want = np.prod(1.0 + data[name].to_numpy())
        np.testing.assert_allclose(np.prod(1.0 + window[..., i], axis=1), want, rtol=1e-12)
    np.testing.assert_array_equal(out[:, :24], r[:, :24])
    np.testing.assert_array_equal(out[:, 40:], r[:, 40:])


def test_splice_with_quarterly_steps_compounds_the_months():
    model = _model()
    r = model.simulate(5, 40, 4, seed=3)
    res = resolve(HistoricalEpisode(name="y2022", episode="stocks_bonds_2022"), _ctx(model, 40, 4))
    out = _run(res, r)
    shiller = mcsim.load_dataset("shiller").loc["2022-01":"2022-09"]
    np.testing.assert_allclose(
        np.prod(1.0 + out[:, :3], axis=1),
        np.tile(np.prod(1.0 + shiller.to_numpy(), axis=0), (5, 1)),
        rtol=1e-12,
    )


def test_splice_with_a_fitted_beta_proxy_scales_log_returns():
    model = mcsim.GaussianModel(
        mu=[0.07, 0.03],
        vol=[0.2, 0.07],
        corr=[[1, 0.2], [0.2, 1]],
        names=["my_fund", "us_bonds_10y_tr"],
    )
    stocks = mcsim.load_dataset("shiller").loc["1990":"2020", "us_stocks_tr"]
    history = pd.DataFrame({"my_fund": np.expm1(1.5 * np.log1p(stocks)), "us_bonds_10y_tr": 0.0})
    history.attrs["periods_per_year"] = 12
    ctx = StressContext(
        series_names=model.series_names,
        asset_names=model.series_names,
        inflation_index=-1,
        steps_per_year=12,
        n_steps=60,
        model=model,
        history=history,
        history_periods_per_year=12,
    )
    stress = HistoricalEpisode(
        name="gfc",
        episode="financial_crisis",
        proxies={"my_fund": {"series": "us_stocks_tr", "beta": "fit"}},
    )
    res = resolve(stress, ctx)
    assert res.info["proxies"]["my_fund"]["beta"] == pytest.approx(1.5, rel=1e-12)
    ep = mcsim.load_dataset("shiller").loc["2007-11":"2009-02", "us_stocks_tr"].to_numpy()
    np.testing.assert_allclose(res.episode[:, 0], np.expm1(1.5 * np.log1p(ep)), rtol=1e-10)


def test_shock_at_step_zero_multiplies_buy_and_hold_wealth_by_exactly_0_6():
    model = mcsim.GaussianModel(mu=[0.07], vol=[0.2], corr=[[1.0]], names=["stocks"])
    ctx = StressContext(
        series_names=["stocks"],
        asset_names=["stocks"],
        inflation_index=-1,
        steps_per_year=12,
        n_steps=120,
        model=model,
    )
    r = model.simulate(200, 120, 12, seed=5)
    out = _run(resolve(Shock(name="crash", returns={"stocks": -0.4}), ctx), r)
    np.testing.assert_allclose(np.prod(1 + out, axis=1), 0.6 * np.prod(1 + r, axis=1), rtol=1e-12)


def _fisher_within(sample: np.ndarray, target: float, n: int) -> None:
    z, z0 = np.arctanh(sample), np.arctanh(target)
    assert abs(z - z0) < 5.0 / np.sqrt(n - 3), (sample, target)


@pytest.mark.parametrize("kind", ["gaussian", "student_t"])
@pytest.mark.parametrize("to", [0.8, -0.4])
def test_correlation_stress_reaches_the_target_in_the_window(kind, to):
    model = _model(kind)
    r = model.simulate(2000, 120, 12, seed=11)
    res = resolve(CorrelationStress(name="c", to=to, at_year=2.0, years=3.0), _ctx(model))
    out = _run(res, r)
    x = np.log1p(out[:, 24:60]).reshape(-1, 3)
    _fisher_within(np.corrcoef(x[:, 0], x[:, 1])[0, 1], to, len(x))
    # Outside the window, and for inflation everywhere, the paths are untouched.
    np.testing.assert_array_equal(out[:, :24], r[:, :24])
    np.testing.assert_array_equal(out[:, 60:], r[:, 60:])
    np.testing.assert_array_equal(out[..., 2], r[..., 2])
    # The volatilities do not move.
    sd = x.std(axis=0) * np.sqrt(12)
    np.testing.assert_allclose(sd[:2], [0.18, 0.07], rtol=5 * np.sqrt(2.0 / len(x)) * 2)


def test_correlation_stress_to_one_moves_the_assets_together():
    model = _model()
    r = model.simulate(200, 120, 12, seed=2)
    out = _run(resolve(CorrelationStress(name="c", to=1.0), _ctx(model)), r)
    x = np.log1p(out).reshape(-1, 3)
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] > 1 - 1e-9


def test_correlation_weight_mixes_toward_the_target():
    model = _model()
    r = model.simulate(2000, 120, 12, seed=4)
    out = _run(resolve(CorrelationStress(name="c", to=0.8, weight=0.5), _ctx(model)), r)
    x = np.log1p(out).reshape(-1, 3)
    _fisher_within(np.corrcoef(x[:, 0], x[:, 1])[0, 1], 0.5 * 0.2 + 0.5 * 0.8, len(x))


@pytest.mark.parametrize("kind", ["gaussian", "student_t"])
def test_volatility_multiplier_scales_the_window_volatility(kind):
    model = _model(kind)
    r = model.simulate(2000, 120, 12, seed=8)
    out = _run(resolve(VolatilityStress(name="v", multiplier=2.0, years=5.0), _ctx(model)), r)
    x = np.log1p(out[:, :60]).reshape(-1, 3)
    n = len(x)
    # SE of a sample standard deviation: sigma * sqrt((kurtosis - 1) / (4 n)); the t with
    # 8 degrees of freedom has kurtosis 3 + 6 / (8 - 4) = 4.5.
    kurt = 3.0 if kind == "gaussian" else 4.5
    for i, vol in enumerate([0.18, 0.07]):
        se = 2 * vol * np.sqrt((kurt - 1) / (4 * n))
        assert abs(x[:, i].std() * np.sqrt(12) - 2 * vol) < 5 * se
    # Inflation keeps its volatility: a plain number applies to the assets only.
    np.testing.assert_array_equal(out[..., 2], r[..., 2])
    np.testing.assert_array_equal(out[:, 60:], r[:, 60:])
    ratio = np.log1p(out[:, :60, 0]).std() / np.log1p(r[:, :60, 0]).std()
    assert ratio == pytest.approx(2.0, rel=1e-3)


def test_drift_shift_moves_the_mean_log_return():
    model = _model()
    r = model.simulate(20, 120, 12, seed=1)
    out = _run(resolve(DriftStress(name="lost", shift=-0.05, years=5.0), _ctx(model)), r)
    np.testing.assert_allclose(
        np.log1p(out[:, :60, :2]) - np.log1p(r[:, :60, :2]), -0.05 / 12, atol=1e-14
    )
    np.testing.assert_array_equal(out[:, 60:], r[:, 60:])
    np.testing.assert_array_equal(out[..., 2], r[..., 2])


@pytest.mark.parametrize(
    "stress",
    [
        VolatilityStress(name="v", multiplier=1.0, years=5.0),
        CorrelationStress(name="c", to=0.9, weight=0.0),
        CorrelationStress(name="c", to=[[1.0, 0.2], [0.2, 1.0]]),
        DriftStress(name="d", shift=0.0),
        Shock(name="s", returns={"us_stocks_tr": 0.0}),
    ],
    ids=["vol1", "weight0", "same_corr", "shift0", "shock0"],
)
def test_no_op_stresses_return_the_input_bit_for_bit(stress):
    model = _model()
    r = model.simulate(30, 120, 12, seed=9)
    res = resolve(stress, _ctx(model))
    assert res.kind == "copy"
    out = _run(res, r)
    assert out.tobytes() == r.tobytes()


def test_random_splice_steps_are_the_same_for_any_chunking():
    model = _model()
    ctx = _ctx(model)
    res = resolve(HistoricalEpisode(name="gfc", episode="financial_crisis", at="random"), ctx)
    assert (res.splice_low, res.splice_high) == (0, 120 - 16 + 1)
    r = model.simulate(40, 120, 12, seed=6)
    steps = splice_steps(1234, 3, 1, 40, res.splice_low, res.splice_high)
    np.testing.assert_array_equal(
        steps, splice_steps(1234, 3, 1, 40, res.splice_low, res.splice_high)
    )
    assert steps.dtype == np.int64 and steps.min() >= 0 and steps.max() < res.splice_high
    assert not np.array_equal(steps, splice_steps(1234, 4, 1, 40, 0, res.splice_high))
    assert not np.array_equal(steps, splice_steps(1234, 3, 2, 40, 0, res.splice_high))
    whole = _run(res, r, splice_steps=steps)
    chunks = np.concatenate(
        [
            _run(res, np.ascontiguousarray(r[a:b]), splice_steps=steps[a:b])
            for a, b in ((0, 7), (7, 25), (25, 40))
        ]
    )
    assert whole.tobytes() == chunks.tobytes()
    np.testing.assert_array_equal(whole, splice_naive(r, res.episode, steps))


def test_splice_steps_leave_the_model_stream_alone():
    seq = np.random.SeedSequence(99, spawn_key=(2,))
    before = np.random.default_rng(seq).standard_normal(5)
    splice_steps(99, 2, 0, 10, 0, 5)
    after = np.random.default_rng(np.random.SeedSequence(99, spawn_key=(2,))).standard_normal(5)
    np.testing.assert_array_equal(before, after)


def test_apply_stress_refuses_bad_buffers():
    model = _model()
    res = resolve(DriftStress(name="d", shift=-0.05), _ctx(model))
    r = model.simulate(3, 120, 12, seed=1)
    with pytest.raises(ValueError, match="share memory"):
        apply_stress(res, r, r)
    with pytest.raises(ValueError, match="shape"):
        apply_stress(res, r, np.empty((3, 119, 3)))
    with pytest.raises(ValueError, match="splice_steps"):
        apply_stress(res, r, np.empty_like(r), splice_steps=np.zeros(3, dtype=np.int64))


# -- kernels against their NumPy twins ---------------------------------------------------------
# The kernels rewrite a window of a buffer that holds a copy of the returns: each test starts
# from such a copy, and a NaN-filled buffer shows which cells a kernel writes at all.
EPS = np.finfo(float).eps


@pytest.fixture(scope="module")
def block():
    rng = np.random.default_rng(17)
    return np.ascontiguousarray(np.expm1(rng.normal(0.005, 0.04, size=(6, 15, 3))))


def _written(out: np.ndarray) -> np.ndarray:
    return ~np.isnan(out)


def test_splice_kernel_matches_twin_and_writes_only_the_windows(block):
    episode = np.ascontiguousarray(np.random.default_rng(1).normal(0, 0.05, size=(4, 3)))
    starts = np.array([0, 11, 5, 3, 7, 11], dtype=np.int64)
    out = block.copy()
    splice_rewrite_nb(episode, starts, out)
    np.testing.assert_array_equal(out, splice_naive(block, episode, starts))
    blank = np.full_like(block, np.nan)
    splice_rewrite_nb(episode, starts, blank)
    inside = np.zeros(block.shape, dtype=bool)
    for p, s in enumerate(starts):
        inside[p, s : s + 4] = True
    np.testing.assert_array_equal(_written(blank), inside)


@pytest.mark.parametrize("step", [0, 7, 14])
def test_shock_kernel_matches_twin(block, step):
    shock = np.array([-0.4, 0.0, 0.1])
    out = block.copy()
    shock_rewrite_nb(block, shock, step, out)
    np.testing.assert_allclose(out, shock_naive(block, shock, step), rtol=1e-12, atol=1e-15)
    blank = np.full_like(block, np.nan)
    shock_rewrite_nb(block, shock, step, blank)
    assert _written(blank).sum() == 2 * block.shape[0]
    assert _written(blank[:, step, [0, 2]]).all()


@pytest.mark.parametrize(("start", "stop"), [(0, 15), (3, 9), (14, 15)])
def test_linear_kernel_matches_twin(block, start, stop):
    rng = np.random.default_rng(2)
    drift = rng.normal(0, 0.01, 3)
    matrix = np.ascontiguousarray(np.tril(rng.normal(1, 0.3, (3, 3))))
    rows = np.array([1, 2], dtype=np.int64)
    out = block.copy()
    linear_rewrite_nb(block, drift, matrix, rows, start, stop, out)
    want = linear_window_naive(block, drift, matrix, rows, start, stop)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(out[..., 0], block[..., 0])
    blank = np.full_like(block, np.nan)
    linear_rewrite_nb(block, drift, matrix, rows, start, stop, blank)
    assert _written(blank[:, start:stop, 1:]).all()
    assert _written(blank).sum() == 2 * (stop - start) * block.shape[0]


@pytest.mark.parametrize(("start", "stop"), [(0, 15), (3, 9)])
def test_scale_kernel_is_the_linear_kernel_with_a_diagonal_matrix_bit_for_bit(block, start, stop):
    drift = np.array([0.004, -0.002, 0.001])
    scale = np.array([2.0, 1.0, 0.5])
    rows = np.array([0, 2], dtype=np.int64)
    out = block.copy()
    scale_rewrite_nb(block, drift, scale, rows, start, stop, out)
    want = block.copy()
    linear_rewrite_nb(block, drift, np.diag(scale), rows, start, stop, want)
    assert out.tobytes() == want.tobytes()
    np.testing.assert_allclose(
        out,
        linear_window_naive(block, drift, np.diag(scale), rows, start, stop),
        rtol=1e-12,
        atol=1e-15,
    )


@pytest.mark.parametrize(("start", "stop"), [(0, 15), (4, 6)])
def test_drift_kernel_matches_the_log_space_twin_to_a_few_ulps(block, start, stop):
    shift = np.array([-0.004, 0.0, 0.002])
    out = block.copy()
    drift_rewrite_nb(block, shift, start, stop, out)
    want = drift_window_naive(block, shift, start, stop)
    # r' = r e^d + expm1(d) rounds three times (the product, the sum, e^d), and the log-space
    # twin log1p / expm1 about as often: their difference is a few ulps of the largest term.
    scale = np.maximum(np.maximum(np.abs(block), np.abs(want)), np.abs(np.expm1(shift)))
    assert (np.abs(out - want) <= 4 * EPS * scale).all()
    # A zero shift is an exact no-op, and nothing outside the window moves.
    assert out[..., 1].tobytes() == block[..., 1].tobytes()
    np.testing.assert_array_equal(out[:, :start], block[:, :start])
    np.testing.assert_array_equal(out[:, stop:], block[:, stop:])


def test_drift_kernel_differs_from_the_log_space_form_only_in_the_last_bits():
    # Over a 10-year window of monthly steps, the compounded growth of the two forms agrees to
    # rounding: the fused form changes the stressed numbers by last bits only.
    rng = np.random.default_rng(5)
    r = np.ascontiguousarray(np.expm1(rng.normal(0.006, 0.05, size=(200, 120, 2))))
    shift = np.array([-0.05 / 12, 0.03 / 12])
    out = r.copy()
    drift_rewrite_nb(r, shift, 0, 120, out)
    want = drift_window_naive(r, shift, 0, 120)
    growth, want_growth = np.prod(1 + out, axis=1), np.prod(1 + want, axis=1)
    np.testing.assert_allclose(growth, want_growth, rtol=120 * 4 * EPS, atol=0)


def test_restore_kernel_copies_back_each_paths_window_only(block):
    starts = np.array([0, 11, 5, 3, 7, 11], dtype=np.int64)
    blank = np.full_like(block, np.nan)
    restore_window_nb(block, starts, 4, blank)
    for p, s in enumerate(starts):
        np.testing.assert_array_equal(blank[p, s : s + 4], block[p, s : s + 4])
        assert np.isnan(blank[p, :s]).all() and np.isnan(blank[p, s + 4 :]).all()


@pytest.mark.parametrize(
    "stress",
    [
        HistoricalEpisode(name="gfc", episode="financial_crisis", at_year=2.0),
        HistoricalEpisode(name="gfc", episode="financial_crisis", at="random"),
        Shock(name="s", returns={"us_stocks_tr": -0.3}, at_year=1.0),
        VolatilityStress(name="v", multiplier=2.0, at_year=1.0, years=2.0),
        CorrelationStress(name="c", to=0.8, at_year=3.0, years=1.0),
        DriftStress(name="d", shift=-0.05, years=5.0),
        DriftStress(name="d", shift=0.0),
    ],
    ids=["splice", "random_splice", "shock", "vol", "corr", "drift", "no_op"],
)
def test_rewrite_then_restore_equals_apply_then_leaves_the_copy_bit_for_bit(stress):
    model = _model()
    r = model.simulate(12, 120, 12, seed=4)
    res = resolve(stress, _ctx(model))
    kw = {}
    if res.kind == "splice" and res.random_start:
        kw["splice_steps"] = splice_steps(5, 0, 0, 12, res.splice_low, res.splice_high)
    buf = r.copy()
    rewrite_stress(res, r, buf, **kw)
    assert buf.tobytes() == _run(res, r, **kw).tobytes()
    restore_stress(res, r, buf, **kw)
    assert buf.tobytes() == r.tobytes()


def test_a_volatility_stress_resolves_to_a_per_series_scale():
    model = _model()
    res = resolve(VolatilityStress(name="v", multiplier=2.0, years=5.0), _ctx(model))
    assert res.kind == "scale"
    np.testing.assert_array_equal(res.scale, [2.0, 2.0, 1.0])
    np.testing.assert_array_equal(res.rows, [0, 1])


def test_resolved_correlation_map_matches_the_twin_on_one_path():
    model = _model("student_t")
    r = model.simulate(3, 24, 12, seed=2)
    res = resolve(CorrelationStress(name="c", to=0.7, years=1.0), _ctx(model, 24))
    want = linear_window_naive(r, res.drift, res.matrix, res.rows, res.start, res.stop)
    np.testing.assert_allclose(_run(res, r), want, rtol=1e-12, atol=1e-15)
