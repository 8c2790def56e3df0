"""Plain Python twins of the friction and tax kernels, written for clarity, not speed.

Tests compare each kernel of ``kernels/_costs.py`` and ``kernels/_taxes.py`` with these on
small inputs. Lots are Python lists of dicts here; the kernels use fixed-size arrays.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..kernels import layout as L

__all__ = [
    "LotBook",
    "asset_cost",
    "execution_normal",
    "impact_cost",
    "noise_keys",
    "participation_scale",
    "year_tax",
]


_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15


def _splitmix64(seed: int, k: int) -> int:
    """Output ``k`` (1-based) of SplitMix64 seeded with ``seed``, with Python integers."""
    z = (seed + k * _GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def noise_keys(entropy: int, start: int, n: int) -> list[int]:
    """Execution-noise keys of global paths ``start .. start + n - 1`` (as the engine)."""
    root = int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])
    return [_splitmix64(root, p + 1) for p in range(start, start + n)]


@functools.cache
def _ziggurat_tables() -> tuple[list[float], list[float], list[float]]:
    """Marsaglia and Tsang's 256-layer ziggurat tables for 52-bit magnitudes (NumPy's
    exp, log and sqrt, as the kernel's tables)."""
    r, v, m1 = 3.6541528853610088, 4.92867323399e-3, 2.0**52
    k, w, f = [0.0] * 256, [0.0] * 256, [0.0] * 256
    dn = tn = r
    q = v / np.exp(-0.5 * dn * dn)
    k[0], w[0], w[255] = np.floor(dn / q * m1), q / m1, dn / m1
    f[0], f[255] = 1.0, np.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = np.sqrt(-2.0 * np.log(v / dn + np.exp(-0.5 * dn * dn)))
        k[i + 1] = np.floor(dn / tn * m1)
        tn = dn
        f[i] = np.exp(-0.5 * dn * dn)
        w[i] = dn / m1
    return [float(a) for a in k], [float(a) for a in w], [float(a) for a in f]


def execution_normal(key: int, t: int, i: int, n_assets: int, stream: int) -> float:
    """The execution-noise normal of a path key at step ``t``, asset ``i`` and ``stream``
    (0 = slippage, 1 = substitute tracking): the ziggurat method on SplitMix64 words
    ``c * 256 + j + 1``, ``c = (t * n_assets + i) * 2 + stream``."""
    k, w, f = _ziggurat_tables()
    r = 3.6541528853610088
    first = ((int(t) * n_assets + int(i)) * 2 + int(stream)) * 256 + 1
    words = (_splitmix64(int(key), first + j) for j in range(256))

    def uniform() -> float:
        return (next(words) >> 11) / 2.0**53

    while True:
        bits = next(words)
        idx, negative, rabs = bits & 0xFF, (bits >> 8) & 1, (bits >> 12) & ((1 << 52) - 1)
        x = rabs * w[idx]
        if rabs < k[idx]:
            return -x if negative else x
        if idx == 0:
            while True:
                xx = -math.log1p(-uniform()) / r
                yy = -math.log1p(-uniform())
                if yy + yy > xx * xx:
                    return -(r + xx) if negative else r + xx
        if (f[idx - 1] - f[idx]) * uniform() + f[idx] < math.exp(-0.5 * x * x):
            return -x if negative else x


def impact_cost(amount: float, eta: float, vol_daily: float, adv: float) -> float:
    """Square-root law: ``eta * sigma_daily * sqrt(amount / adv) * amount`` (currency)."""
    if eta <= 0 or amount <= 0 or not math.isfinite(adv):
        return 0.0
    return eta * vol_daily * math.sqrt(amount / adv) * amount


def asset_cost(
    amount: float, ap_row: np.ndarray, z: float, price_index: float = 1.0
) -> dict[str, float]:
    """Cost components of trading ``amount`` (currency, > 0) of one asset."""
    adv = ap_row[L.AP_ADV] * (price_index if ap_row[L.AP_ADV_GROWTH] > 0 else 1.0)
    out = {
        "proportional": ap_row[L.AP_PROPORTIONAL] * amount,
        "fixed": ap_row[L.AP_FIXED_FEE],
        "spread": ap_row[L.AP_HALF_SPREAD] * amount,
        "slippage": ap_row[L.AP_SLIPPAGE] * ap_row[L.AP_VOL_STEP] * abs(z) * amount,
        "impact": impact_cost(amount, ap_row[L.AP_IMPACT_ETA], ap_row[L.AP_VOL_DAILY], adv),
    }
    return out


def participation_scale(
    trade: np.ndarray, asset_params: np.ndarray, price_index: np.ndarray
) -> float:
    """Largest fraction of ``trade`` within every asset's cap ADV x days x participation."""
    scale = 1.0
    for i, a in enumerate(np.abs(trade)):
        ap = asset_params[i]
        if a == 0 or not math.isfinite(ap[L.AP_PARTICIPATION]):
            continue
        adv = ap[L.AP_ADV] * (price_index[i] if ap[L.AP_ADV_GROWTH] > 0 else 1.0)
        limit = adv * ap[L.AP_DAYS_PER_STEP] * ap[L.AP_PARTICIPATION]
        scale = min(scale, limit / a) if a > limit else scale
    return scale


def year_tax(
    short: float,
    long: float,
    carry: float,
    short_rate: float,
    long_rate: float,
    offset_limit: float = 0.0,
    income_rate: float = 0.0,
) -> tuple[float, float]:
    """Tax of a year and the loss carried forward, by the textbook netting rules.

    Net short-term and long-term results; a net loss in one offsets a net gain in the other;
    losses carried forward offset short-term gains first; a remaining net loss offsets up to
    ``offset_limit`` of other income (worth ``income_rate``) and the rest is carried.
    """
    total = short + long - carry
    if total <= 0:
        loss = -total
        used = min(loss, offset_limit)
        return -used * income_rate, loss - used
    # Some net gain remains: split it between the two characters.
    if short < 0:
        st, lt = 0.0, long + short
    elif long < 0:
        st, lt = short + long, 0.0
    else:
        st, lt = short, long
    c = carry
    u = min(c, st)
    st -= u
    c -= u
    lt -= min(c, lt)
    return st * short_rate + lt * long_rate, 0.0


@dataclass
class LotBook:
    """Lots of one asset: each ``{"units", "basis", "step", "vehicle"}``.

    A FIFO book (``by_cost`` False) keeps them in purchase order; a HIFO or tax-min book in
    ascending cost per unit, a purchase going after the lots that cost no more.
    """

    max_lots: int
    long_steps: float
    prices: list[float] = field(default_factory=lambda: [1.0, 1.0])
    lots: list[dict[str, float]] = field(default_factory=list)
    by_cost: bool = False

    def value(self, lot: dict[str, float]) -> float:
        return lot["units"] * self.prices[int(lot["vehicle"])]

    def total_value(self) -> float:
        return sum(self.value(lot) for lot in self.lots)

    def is_long(self, lot: dict[str, float], t: float) -> bool:
        return t - lot["step"] >= self.long_steps

    def merge_oldest(self, t: float) -> None:
        """Merge long-term lots of one vehicle in pairs, oldest first, until a quarter of
        the slots are free; with no such pair, merge the two oldest lots of one vehicle."""
        want = max(1, len(self.lots) // 4)
        freed = 0
        open_: dict[int, int] = {}
        for k, lot in enumerate(self.lots):
            if freed >= want:
                break
            if not self.is_long(lot, t):
                continue
            v = int(lot["vehicle"])
            if v not in open_:
                open_[v] = k
                continue
            a = self.lots[open_.pop(v)]
            a["units"] += lot["units"]
            a["basis"] += lot["basis"]
            a["step"] = max(a["step"], lot["step"])
            lot["units"] = 0.0
            freed += 1
        if freed == 0:
            seen: dict[int, int] = {}
            for k, lot in enumerate(self.lots):
                v = int(lot["vehicle"])
                if v in seen:
                    a = self.lots[seen[v]]
                    a["units"] += lot["units"]
                    a["basis"] += lot["basis"]
                    a["step"] = max(a["step"], lot["step"])
                    lot["units"] = 0.0
                    break
                seen[v] = k
        self.lots = [lot for lot in self.lots if lot["units"] > 0]

    @staticmethod
    def _merge(a: dict[str, float], b: dict[str, float]) -> None:
        a["units"] += b["units"]
        a["basis"] += b["basis"]
        a["step"] = max(a["step"], b["step"])
        b["units"] = 0.0

    def merge_neighbours(self, t: float) -> None:
        """Cost-ordered books: merge neighbouring long-term lots of one vehicle in pairs,
        cheapest first, until a quarter of the slots are free; with no such pair, the first
        neighbouring pair of one vehicle; when vehicles alternate, the first and third lots
        (kept in cost order)."""
        lots = self.lots
        want = max(1, len(lots) // 4)
        freed = 0
        prev = None
        for lot in lots:
            if freed >= want:
                break
            if not self.is_long(lot, t):
                prev = None
            elif prev is not None and prev["vehicle"] == lot["vehicle"]:
                self._merge(prev, lot)
                freed += 1
                prev = None
            else:
                prev = lot
        if freed == 0:
            for a, b in itertools.pairwise(lots):
                if a["vehicle"] == b["vehicle"]:
                    self._merge(a, b)
                    freed = 1
                    break
        if freed == 0 and len(lots) >= 3:
            self._merge(lots[2], lots[0])
            if lots[2]["basis"] / lots[2]["units"] < lots[1]["basis"] / lots[1]["units"]:
                lots[1], lots[2] = lots[2], lots[1]
        self.lots = [lot for lot in lots if lot["units"] > 0]

    def buy(self, amount: float, t: float, vehicle: int, basis: float | None = None) -> None:
        """Buy ``amount`` (currency) of shares; their basis is ``amount`` unless given (a
        purchase's trading cost or a disallowed wash loss added to it)."""
        price = self.prices[vehicle]
        units = amount / price
        paid = amount if basis is None else basis
        if self.by_cost:
            self._buy_by_cost(paid, units, paid / units if basis is not None else price, t, vehicle)
            return
        last = self.lots[-1] if self.lots else None
        if last is not None and last["step"] == t and last["vehicle"] == vehicle:
            last["units"] += units
            last["basis"] += paid
            return
        if len(self.lots) >= self.max_lots:
            self.merge_oldest(t)
        self.lots.append({"units": units, "basis": paid, "step": t, "vehicle": vehicle})

    def _position(self, price: float) -> int:
        """After every lot that costs no more (searched from the end, as the kernel)."""
        k = len(self.lots)
        while k > 0 and self.lots[k - 1]["basis"] > price * self.lots[k - 1]["units"]:
            k -= 1
        return k

    def _buy_by_cost(self, amount: float, units: float, price: float, t: float, v: int) -> None:
        k = self._position(price)
        for j in (k - 1, k):
            if 0 <= j < len(self.lots):
                lot = self.lots[j]
                if lot["step"] == t and lot["vehicle"] == v:
                    lot["units"] += units
                    lot["basis"] += amount
                    return
        if len(self.lots) >= self.max_lots:
            self.merge_neighbours(t)
            k = self._position(price)
        self.lots.insert(k, {"units": units, "basis": amount, "step": t, "vehicle": v})

    def order(self, method: int, t: float) -> list[int]:
        """Indices of lots in the order a sale takes them."""
        idx = list(range(len(self.lots)))
        if method == L.LOT_FIFO:
            return sorted(idx, key=lambda k: self.lots[k]["step"]) if self.by_cost else idx
        if method == L.LOT_HIFO:
            # Of equal costs, the first in a FIFO book; the later-booked in a cost-ordered one.
            tie = -1 if self.by_cost else 1
            return sorted(
                idx, key=lambda k: (-self.lots[k]["basis"] / self.lots[k]["units"], tie * k)
            )

        def key(k: int) -> tuple[int, float, int]:
            lot = self.lots[k]
            g = 1.0 - (lot["basis"] / lot["units"]) / self.prices[int(lot["vehicle"])]
            cat = 0 if g < 0 else (1 if self.is_long(lot, t) else 2)
            return (cat, g, k)

        return sorted(idx, key=key)

    def sell(self, amount: float, t: float, method: int, commit: bool = True) -> list[float]:
        """Sell ``amount``; returns ``[short_term_gain, long_term_gain, value_sold]``."""
        short = long = 0.0
        left = amount
        for k in self.order(method, t):
            if left <= 0:
                break
            lot = self.lots[k]
            v = self.value(lot)
            take = min(v, left)
            f = take / v if take < v * (1 - 1e-12) else 1.0
            gain = take - f * lot["basis"]
            if self.is_long(lot, t):
                long += gain
            else:
                short += gain
            if commit:
                lot["units"] *= 1 - f
                lot["basis"] *= 1 - f
            left -= v if f == 1.0 else take
        if commit:
            self.lots = [lot for lot in self.lots if lot["units"] > 0]
        return [short, long, amount - max(left, 0.0)]

    def harvest(
        self, vehicle: int, threshold: float, t: float, cost_rate: float = 0.0
    ) -> list[float]:
        """Sell every lot of ``vehicle`` worth less than ``(1 - threshold)`` x its basis;
        the sale's cost (``cost_rate`` x value sold) is deducted from the proceeds, so each
        lot's loss grows by ``cost_rate`` x its value."""
        short = long = sold = 0.0
        keep = []
        for lot in self.lots:
            v = self.value(lot)
            if lot["vehicle"] == vehicle and v < (1 - threshold) * lot["basis"]:
                if self.is_long(lot, t):
                    long += v * (1 - cost_rate) - lot["basis"]
                else:
                    short += v * (1 - cost_rate) - lot["basis"]
                sold += v
            else:
                keep.append(lot)
        self.lots = keep
        return [short, long, sold]

    def to_arrays(self, max_lots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """This book as one asset's rows of the kernel arrays ``(tax_state, lots)``."""
        n = max_lots or self.max_lots
        ts = np.zeros((1, L.N_TAX_STATE))
        lots = np.zeros((1, n, L.N_LOT_FIELDS))
        for k, lot in enumerate(self.lots):
            lots[0, k] = [lot["units"], lot["basis"], lot["step"], lot["vehicle"]]
        ts[0, L.TS_N_LOTS] = len(self.lots)
        ts[0, L.TS_PRICE] = self.prices[0]
        ts[0, L.TS_PRICE + 1] = self.prices[1]
        ts[0, L.TS_LOSS_SALE : L.TS_LOSS_SALE + 2] = -np.inf
        ts[0, L.TS_BY_COST] = float(self.by_cost)
        for v in range(2):
            mine = [lot for lot in self.lots if lot["vehicle"] == v]
            ts[0, L.TS_UNITS + v] = sum(lot["units"] for lot in mine)
            ts[0, L.TS_MAX_COST + v] = max((lot["basis"] / lot["units"] for lot in mine), default=0)
        return ts, lots
