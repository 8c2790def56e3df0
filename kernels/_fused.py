"""The Gaussian model's draw fused with a built-in policy's pass over the same paths.

The engine's usual block loop fills a chunk of returns (about 1 MiB, ``mcsim.plan``) with
the model, then runs each policy over it: every return is written to the chunk and read
back once it has left the first-level cache. :func:`simulate_gaussian_builtin_nb` draws a
path into its row of the chunk and runs the first policy along it at once, while the
path's 360 x 10 returns (28 KiB) are still in the first-level cache. The draw is the
model's own per-path function (``_gaussian.gaussian_path_nb``) in the same path order from
the same generator, and the policy loop is the engine's phases
(``_engine.begin_path_nb`` ... ``_engine.end_path_nb``) around the registry's dispatch, as
in ``_engine.simulate_policy_builtin_nb``: the chunk, the metrics and the sketch come out
bit for bit as from the two passes, so the other policies, stresses and features of the
block read the chunk as usual.
"""

from numba import njit

from ._engine import (
    begin_path_nb,
    begin_step_nb,
    end_path_nb,
    finish_step_nb,
    start_run_nb,
)
from ._gaussian import gaussian_path_nb, gaussian_scratch_nb
from ._registry import consult_builtin_nb


@njit(cache=True, nogil=True)
def simulate_gaussian_builtin_nb(
    rng,
    drift,
    chol,
    kind,
    check_every,
    check_offset,
    params,
    state0,
    exec_params,
    w_init,
    targets,
    returns,
    inflation,
    noise_keys,
    asset_params,
    flows,
    tax_params,
    initial_wealth,
    steps_per_year,
    goal,
    grid_steps,
    hist_lo,
    hist_width,
    out_metrics,
    out_hist,
    out_wealth,
):
    """Draw each path of a chunk from the Gaussian model and run the built-in policy
    ``kind`` along it at once. Numba-compiled.

    Parameters
    ----------
    rng, drift, chol
        As ``_gaussian.simulate_gaussian_nb``: the block's generator (advanced in place), the
        drift of log returns per step (shape (n_assets,)) and the lower Cholesky factor of
        their covariance per step (shape (n_assets, n_assets)).
    returns : ndarray of shape (n_paths, n_steps, n_assets)
        C-contiguous float64, overwritten with the simple returns drawn (what
        ``simulate_gaussian_nb(rng, drift, chol, returns)`` would write).
    kind, check_every, ..., out_wealth
        As ``_engine.simulate_policy_builtin_nb``; the model simulates no inflation, so
        ``inflation`` is zeros.
    """
    own, ws, run, inp = start_run_nb(
        kind, check_every, check_offset, params, state0, exec_params, w_init, targets,
        returns, inflation, noise_keys, asset_params, flows, tax_params, initial_wealth,
        steps_per_year, goal, grid_steps, hist_lo, hist_width, out_metrics, out_hist,
        out_wealth,
    )  # fmt: skip
    n_paths, n_steps, n_series = returns.shape
    z, x, y = gaussian_scratch_nb(n_series, n_steps)
    h, w, w_new, target, state, params = ws.h, ws.w, ws.w_new, ws.target, ws.state, inp.params
    for p in range(n_paths):
        gaussian_path_nb(rng, drift, chol, z, x, y, returns[p])
        g, next_due, keep, r_path, noise_key = begin_path_nb(p, run, inp, ws)
        for t in range(n_steps):
            due, next_due, wealth, live = begin_step_nb(
                t, next_due, p, r_path, noise_key, run, inp, ws
            )
            traded = (
                live
                and due
                and consult_builtin_nb(kind, t, r_path, h, w, wealth, target, params, state, w_new)
            )
            g = finish_step_nb(traded, live, t, g, wealth, r_path, noise_key, keep, run, inp, ws)
        end_path_nb(p, inp, ws)
    # ``own`` holds the owning arrays until here, so the borrowed views stay valid.
    return own.h.size
