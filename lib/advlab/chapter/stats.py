"""95 % intervals for every number a verdict rests on (book page "How to read the verdicts").

Rates get a Wilson score interval; means, medians, ratios and paired differences a percentile
bootstrap over the samples (images), resampling the *same* images for both sides of a paired
comparison. Every function returns an :class:`Estimate`: the value, its interval, the sample size
and the method, so tables and claims carry them together. Bootstraps are seeded: the same data give
the same interval.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 4000
_Z = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass(frozen=True)
class Estimate:
    """A value with its 95 % interval [low, high], over ``n`` samples, computed by ``method``."""

    value: float
    low: float
    high: float
    n: int
    method: str

    def __str__(self) -> str:
        return self.format()

    def format(self, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
        """``value [low, high]`` with ``digits`` significant decimals, multiplied by ``scale``."""
        def number(x: float) -> str:
            if not math.isfinite(x):
                return "∞" if x > 0 else "−∞" if x < 0 else "nan"
            return f"{x * scale:.{digits}f}"
        if self.low == self.high == self.value:
            return f"{number(self.value)}{unit}"
        return f"{number(self.value)}{unit} [{number(self.low)}, {number(self.high)}]"

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def scaled(self, factor: float) -> "Estimate":
        """The same estimate in other units (e.g. ×100 for percent)."""
        return Estimate(self.value * factor, self.low * factor, self.high * factor, self.n, self.method)


def exact(value: float, n: int = 1, method: str = "exact (deterministic count)") -> Estimate:
    """A number without sampling error (a count fixed by the budget, a bit-exact equality)."""
    return Estimate(float(value), float(value), float(value), n, method)


def wilson(successes: int, n: int) -> Estimate:
    """Rate successes/n with the Wilson score interval (Wilson 1927), valid at 0 % and 100 %."""
    if n <= 0:
        raise ValueError("a rate needs at least one sample (n = 0)")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes} of {n}")
    p = successes / n
    denominator = 1 + _Z ** 2 / n
    centre = (p + _Z ** 2 / (2 * n)) / denominator
    spread = _Z * math.sqrt(p * (1 - p) / n + _Z ** 2 / (4 * n ** 2)) / denominator
    return Estimate(p, max(0.0, centre - spread), min(1.0, centre + spread), n, "Wilson score")


def rate(flags) -> Estimate:
    """The fraction of true values in ``flags`` with its interval: Wilson for one flag per sample,
    a cluster bootstrap for an (n, k) array (k correlated flags per sample, e.g. 9 targets)."""
    flags = np.asarray(flags, dtype=bool)
    if flags.ndim == 2:
        return bootstrap(lambda x: x.mean(-1), flags, method="cluster bootstrap of the rate")
    return wilson(int(flags.sum()), len(flags))


def _samples(values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2) or len(array) == 0:
        raise ValueError(f"need a non-empty array of per-sample values (n,) or (n, k), got shape {array.shape}")
    return array


def bootstrap(statistic: Callable[..., np.ndarray], *samples, resamples: int = RESAMPLES, seed: int = 0,
              method: str = "") -> Estimate:
    """Percentile bootstrap of ``statistic(*samples)`` resampling the samples' common index (paired).

    Every array in ``samples`` has one entry per sample (image); a resample draws the same indices
    for all of them, so a paired comparison keeps its pairs. An (n, k) array holds k correlated
    values per sample (an image's 9 targets): whole rows are resampled (a cluster bootstrap) and
    flattened before the statistic. ``statistic`` reduces the last axis
    (it is called once on the data and once on a (resamples, n) stack). Resamples where the
    statistic is undefined (NaN, e.g. no success drawn) are left out of the percentiles.
    """
    arrays = [_samples(s) for s in samples]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"paired samples must have equal lengths, got {[len(a) for a in arrays]}")
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample without any usable sample gives NaN
        value = float(statistic(*(a.reshape(-1) for a in arrays)))
        index = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
        draws = np.asarray(statistic(*(a[index].reshape(resamples, -1) for a in arrays)), dtype=np.float64)
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return Estimate(value, math.nan, math.nan, n, method or "bootstrap")
    alpha = (1 - CONFIDENCE) / 2
    with np.errstate(invalid="ignore"):  # +inf draws (a median over failures) stay +inf
        low, high = np.quantile(draws, [alpha, 1 - alpha], method="inverted_cdf")
    return Estimate(value, float(low), float(high), n, method or f"percentile bootstrap ({resamples} resamples)")


def _masked_mean(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    count = keep.sum(-1)
    return np.where(count > 0, np.where(keep, x, 0).sum(-1) / np.maximum(count, 1), np.nan)


def _lower_median(x: np.ndarray) -> np.ndarray:
    # the lower median, as advlab.evaluate.summarize: a failure (+inf) in the upper half keeps it finite
    return np.quantile(x, 0.5, axis=-1, method="lower")


def mean(values) -> Estimate:
    """Mean over the finite values (the papers' "mean L2" over successful attacks), bootstrap interval."""
    return bootstrap(lambda x: _masked_mean(x, np.isfinite(x)), values, method="bootstrap of the mean over successes")


def median(values) -> Estimate:
    """Lower median over all values (failures as +∞, the papers' worst case), bootstrap interval."""
    return bootstrap(_lower_median, values, method="bootstrap of the median (failures as +∞)")


def relative_difference(a, b, statistic: str = "mean") -> Estimate:
    """stat(a) / stat(b) − 1 on the same samples, paired bootstrap (e.g. −0.03: a's mean is 3 % lower).

    Only samples where both values are finite (both attacks succeeded) enter, so a failure of one
    side never shifts the other's statistic. ``statistic``: "mean" or "median" (lower median).
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")

    def relative(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        both = np.isfinite(x) & np.isfinite(y)
        if statistic == "mean":
            return _masked_mean(x, both) / _masked_mean(y, both) - 1
        sx = np.nanquantile(np.where(both, x, np.nan), 0.5, axis=-1, method="lower")
        sy = np.nanquantile(np.where(both, y, np.nan), 0.5, axis=-1, method="lower")
        return sx / sy - 1

    return bootstrap(relative, a, b, method=f"paired bootstrap of the {statistic} ratio − 1 (samples where both succeeded)")


def ratio(a, b) -> Estimate:
    """mean(a) / mean(b) on the same samples (e.g. gradients or seconds per image), paired bootstrap."""
    return bootstrap(lambda x, y: x.mean(-1) / y.mean(-1), a, b, method="paired bootstrap of the ratio of means")


def paired_difference(a, b) -> Estimate:
    """mean(a − b) on the same samples (e.g. robust/not-robust flags of two models), paired bootstrap."""
    return bootstrap(lambda x, y: (x - y).mean(-1), a, b, method="paired bootstrap of the mean difference")


def curve_gap(a, b, reduce: str = "min") -> Estimate:
    """The gap between two curves measured on the same samples, e.g. two attacks' fooling ratios over an ε
    grid: ``a`` and ``b`` are (n samples, k grid points) arrays of per-sample values (fooled or not); per
    grid point the difference of the column means, reduced over the grid by "min" (A at or above B at
    every point: the smallest gap) or "mean" (on average over the grid). Whole samples are resampled,
    their k points together (chapter convex)."""
    if reduce not in ("min", "mean"):
        raise ValueError(f"reduce must be 'min' or 'mean', got {reduce!r}")
    a, b = _samples(a), _samples(b)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"need two (samples, grid points) arrays of one shape, got {a.shape} and {b.shape}")
    k = a.shape[1]

    def gap(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        per_point = x.reshape(*x.shape[:-1], -1, k).mean(-2) - y.reshape(*y.shape[:-1], -1, k).mean(-2)
        return per_point.min(-1) if reduce == "min" else per_point.mean(-1)

    return bootstrap(gap, a, b, method=f"paired bootstrap over samples of the {reduce} gap over the grid")


def samples_to_resolve(estimate: Estimate, boundaries: list[float]) -> int | None:
    """How many samples would make the interval exclude the farther of ``boundaries`` it now contains.

    The half-width shrinks as 1/√n, so with the measured spread an interval of half-width h at n
    samples excludes a boundary at distance d from the value once n' = n·(h/d)². Returns None when
    the value sits on the boundary (no sample size resolves it) or the interval is undefined.
    """
    inside = [b for b in boundaries if estimate.low <= b <= estimate.high]
    if not inside or not math.isfinite(estimate.half_width):
        return None
    distance = max(abs(estimate.value - b) for b in inside)
    if distance == 0:
        return None
    return int(math.ceil(estimate.n * (estimate.half_width / distance) ** 2))
