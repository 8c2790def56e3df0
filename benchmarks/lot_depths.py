"""How deep purchases go into a cost-ordered tax lot book, counted with the kernels themselves.

Drives the tax account of a W1-like taxable portfolio from Python (10 assets, monthly
steps, 30 years, HIFO lots, at most 64 per asset, a 2 % dividend yield taxed and reinvested
every month, quarterly rebalancing to equal weights less 0.1 %, a yearly sale of 1 % for the tax):
before each step's bookings it counts, per asset, how many lots at the end of the book cost
more than today's price (the lots a purchase's search from the end passes, and that the
shift moves) and how many lots the book holds. Prints both distributions. The numbers it
drives are not those of a run (returns are independent normals, trades are simplified);
the shape of the book is what it measures (docs/frictions_taxes.md, Performance).

Usage::

    python benchmarks/lot_depths.py [--paths 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections

import numpy as np
from mcsim.kernels import _tax_account
from mcsim.kernels import layout as L

from mcsim import TaxConfig

N_ASSETS = 10
N_STEPS = 360
MAX_LOTS = 64
DIVIDEND_YIELD = 0.02  # annual, fraction


def _depths(lots: np.ndarray, ts: np.ndarray) -> list[tuple[int, int]]:
    """Per asset: (lots at the book's end costing more than today's price, lots held)."""
    out = []
    for i in range(lots.shape[0]):
        n = int(ts[i, L.TS_N_LOTS])
        price = ts[i, L.TS_PRICE]
        k = n
        while k > 0 and lots[i, k - 1, L.LOT_BASIS] > price * lots[i, k - 1, L.LOT_UNITS]:
            k -= 1
        out.append((n - k, n))
    return out


def count(n_paths: int, seed: int) -> tuple[collections.Counter, collections.Counter]:
    """Depth and book-size counts over ``n_paths`` paths of the driven account."""
    rng = np.random.default_rng(seed)
    tp = TaxConfig(
        enabled=True,
        lot_method="hifo",
        max_lots=MAX_LOTS,
        short_term_rate=0.37,
        long_term_rate=0.20,
        dividend_rate=0.20,
        loss_offset_limit=3000.0,
    ).tax_params(12)
    mu = np.linspace(0.04, 0.10, N_ASSETS) / 12.0
    vol = np.linspace(0.05, 0.25, N_ASSETS) / np.sqrt(12.0)
    dy = DIVIDEND_YIELD / 12.0
    depth: collections.Counter = collections.Counter()
    size: collections.Counter = collections.Counter()
    for _ in range(n_paths):
        h = np.full(N_ASSETS, 1e5)
        ts = np.zeros((N_ASSETS, L.N_TAX_STATE))
        lots = np.zeros((N_ASSETS, MAX_LOTS, L.N_LOT_FIELDS))
        _tax_account.start_account_nb(h, tp, ts, lots)
        acc = np.zeros(L.N_ACC)
        gains = np.zeros(2 + MAX_LOTS)
        for t in range(N_STEPS):
            g = 1.0 + rng.normal(mu, vol)
            ts[:, L.TS_PRICE] *= g - dy
            ts[:, L.TS_PRICE + 1] *= g - dy
            h = h * g - h * dy * tp[L.TX_DIVIDEND_RATE]  # the dividend's tax leaves
            acc[L.A_WEALTH] = h.sum()
            for d, n in _depths(lots, ts):
                depth[d] += 1
                size[n] += 1
            _tax_account.sync_lots_nb(t, h, L.LOT_HIFO, tp, ts, lots, acc, gains)
            if t % 3 == 2:
                # Back to equal weights, less 0.1 % (a cost): every asset sells a little.
                h = np.full(N_ASSETS, h.sum() / N_ASSETS) * 0.999
                _tax_account.sync_lots_nb(t, h, L.LOT_HIFO, tp, ts, lots, acc, gains)
            if t % 12 == 11:
                h *= 0.99
                _tax_account.sync_lots_nb(t, h, L.LOT_HIFO, tp, ts, lots, acc, gains)
    return depth, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=20, help="paths driven (20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the returns (1)")
    args = parser.parse_args(argv)
    if args.paths < 1:
        parser.error("--paths must be at least 1")
    depth, size = count(args.paths, args.seed)
    total = sum(depth.values())
    print(f"{total:,} purchases; lots costing more than the price, from the book's end:")
    cum = 0
    for d in sorted(depth):
        cum += depth[d]
        if d <= 16 or d % 8 == 0 or d == max(depth):
            print(f"  {d:3d} deep: {depth[d] / total:6.1%}   at most this deep: {cum / total:6.1%}")
    mean = sum(n * c for n, c in size.items()) / total
    full = size.get(MAX_LOTS, 0) / total
    print(f"lots held: mean {mean:.1f}, book full ({MAX_LOTS}) at {full:.1%} of the purchases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
