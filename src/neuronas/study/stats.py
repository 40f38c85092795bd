"""The statistics of a proxy study: rank correlations with p-values and bootstrap intervals, partial
correlation given size, top-k hit rate, and how much of the ranking training noise leaves to find.

All functions take plain sequences (one value per architecture, in the same order) and return
plain floats, so the study, tests and notebooks can use them alike. Ties get average ranks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
TOP_FRACTION = 0.1


@attrs.frozen
class Correlation:
    """A rank correlation, its two-sided p-value, and a bootstrap percentile interval."""

    value: float
    p_value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return attrs.asdict(self)


def _finite_pairs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def kendall(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Kendall's tau-b and its p-value (scipy), NaN when fewer than 3 finite pairs or constant."""
    a, b = _finite_pairs(x, y)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan, math.nan
    result = stats.kendalltau(a, b)
    return float(result.statistic), float(result.pvalue)


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    a, b = _finite_pairs(x, y)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan, math.nan
    result = stats.spearmanr(a, b)
    return float(result.statistic), float(result.pvalue)


def bootstrap_interval(
    x: Sequence[float],
    y: Sequence[float],
    statistic,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(x, y)[0]`` over resamples of the architectures."""
    a, b = _finite_pairs(x, y)
    return _percentile_interval(
        len(a), lambda pick: statistic(a[pick], b[pick])[0], seed, resamples, confidence
    )


def _percentile_interval(
    n: int, statistic_of, seed: int, resamples: int, confidence: float
) -> tuple[float, float]:
    """Percentile interval of ``statistic_of(indices)`` over ``resamples`` draws of n indices with
    replacement; resamples where it is undefined (NaN) are left out."""
    if n < 3:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        value = statistic_of(rng.integers(n, size=n))
        if math.isfinite(value):
            values.append(value)
    if not values:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def correlation(x: Sequence[float], y: Sequence[float], kind: str, seed: int = 0) -> Correlation:
    """``kind`` 'kendall' or 'spearman', with p-value and bootstrap interval."""
    statistic = {"kendall": kendall, "spearman": spearman}[kind]
    value, p_value = statistic(x, y)
    low, high = bootstrap_interval(x, y, statistic, seed)
    return Correlation(value, p_value, low, high)


@attrs.frozen
class Difference:
    """A difference of two correlations and its paired bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return attrs.asdict(self)


def kendall_difference(
    x: Sequence[float],
    z: Sequence[float],
    y: Sequence[float],
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Difference:
    """tau(x, y) - tau(z, y), with an interval from resampling the architectures once for both
    (paired): whether x ranks y better than z (the size baseline) does, beyond the sample's noise.
    Overlapping intervals of the two taus do not answer that; this interval does."""
    a, c, b = (np.asarray(v, dtype=float) for v in (x, z, y))
    keep = np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
    a, b, c = a[keep], b[keep], c[keep]

    def difference(pick: np.ndarray) -> float:
        return kendall(a[pick], b[pick])[0] - kendall(c[pick], b[pick])[0]

    value = difference(np.arange(len(a))) if len(a) >= 3 else math.nan
    low, high = _percentile_interval(len(a), difference, seed, resamples, confidence)
    return Difference(value, low, high)


def partial_spearman(
    x: Sequence[float], y: Sequence[float], z: Sequence[float]
) -> tuple[float, float]:
    """Spearman correlation of x and y with z (the size) partialled out, and its p-value.

    The Pearson partial correlation of the ranks, r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)
    (1 - r_yz^2)), tested with a t statistic on n - 3 degrees of freedom.
    """
    a, b, c = (np.asarray(v, dtype=float) for v in (x, y, z))
    keep = np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
    a, b, c = a[keep], b[keep], c[keep]
    n = len(a)
    if n < 4 or min(np.ptp(a), np.ptp(b), np.ptp(c)) == 0:
        return math.nan, math.nan
    ra, rb, rc = (stats.rankdata(v) for v in (a, b, c))
    r_ab, r_ac, r_bc = (np.corrcoef(u, v)[0, 1] for u, v in ((ra, rb), (ra, rc), (rb, rc)))
    denominator = math.sqrt(max((1 - r_ac**2) * (1 - r_bc**2), 0.0))
    if denominator == 0:
        return math.nan, math.nan
    partial = float(np.clip((r_ab - r_ac * r_bc) / denominator, -1.0, 1.0))
    if abs(partial) == 1.0:
        return partial, 0.0
    t = partial * math.sqrt((n - 3) / (1 - partial**2))
    return partial, float(2 * stats.t.sf(abs(t), n - 3))


def top_hit_rate(
    scores: Sequence[float], accuracy: Sequence[float], fraction: float = TOP_FRACTION
) -> float:
    """The share of the metric's top ``fraction`` (at least one architecture) that is also in the
    accuracy's top ``fraction``; a -inf score ranks last."""
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    a = np.asarray(accuracy, dtype=float)
    k = max(1, math.ceil(fraction * len(a)))
    best_by_score = set(np.argsort(-s, kind="stable")[:k].tolist())
    best_by_accuracy = set(np.argsort(-a, kind="stable")[:k].tolist())
    return len(best_by_score & best_by_accuracy) / k


@attrs.frozen
class Noise:
    """How repeatable the accuracies are across training seeds, and what that leaves to find.

    ``seed_tau``: Kendall tau between the rankings of two seeds (the mean over seed pairs);
    ``reliability``: Spearman-Brown reliability of the seed-mean accuracy from the mean seed-pair
    Spearman rho; ``ceiling_rho`` = sqrt(reliability) bounds the Spearman correlation any metric can
    reach with the noisy mean accuracy, and ``ceiling_tau`` = (2 / pi) arcsin(ceiling_rho) is the
    Kendall tau that corresponds to it for a bivariate normal. NaN with a single seed.
    """

    mean_std: float
    max_std: float
    seed_tau: float
    seed_rho: float
    reliability: float
    ceiling_rho: float
    ceiling_tau: float

    def to_dict(self) -> dict[str, float]:
        return attrs.asdict(self)


def _mean_of_finite(values) -> float:
    finite = [v for v in np.asarray(values, dtype=float).ravel() if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def training_noise(per_seed: np.ndarray) -> Noise:
    """``per_seed``: accuracies [architectures, seeds]."""
    per_seed = np.asarray(per_seed, dtype=float)
    stds = per_seed.std(axis=1, ddof=1) if per_seed.shape[1] > 1 else np.full(len(per_seed), np.nan)
    seeds = per_seed.shape[1]
    taus, rhos = [], []
    for i in range(seeds):
        for j in range(i + 1, seeds):
            taus.append(kendall(per_seed[:, i], per_seed[:, j])[0])
            rhos.append(spearman(per_seed[:, i], per_seed[:, j])[0])
    seed_tau, seed_rho = _mean_of_finite(taus), _mean_of_finite(rhos)
    if math.isfinite(seed_rho):
        reliability = seeds * seed_rho / (1 + (seeds - 1) * seed_rho) if seed_rho > 0 else 0.0
        ceiling_rho = math.sqrt(reliability)
        ceiling_tau = 2 / math.pi * math.asin(ceiling_rho)
    else:
        reliability = ceiling_rho = ceiling_tau = math.nan
    return Noise(
        mean_std=_mean_of_finite(stds),
        max_std=float(np.nanmax(stds)) if np.isfinite(stds).any() else math.nan,
        seed_tau=seed_tau,
        seed_rho=seed_rho,
        reliability=float(reliability),
        ceiling_rho=float(ceiling_rho),
        ceiling_tau=float(ceiling_tau),
    )


def percentile_rank(value: float, sample: Sequence[float]) -> float:
    """The share of ``sample`` strictly below ``value`` plus half the ties (0 worst, 1 best)."""
    values = np.asarray(sample, dtype=float)
    return float((np.sum(values < value) + 0.5 * np.sum(values == value)) / len(values))
