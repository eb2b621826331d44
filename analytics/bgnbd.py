"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), fitted by maximum likelihood.

x: repeat purchases, t_x: time of the last purchase, T: age (both from the first purchase, in weeks
as in the paper). Rows may carry a weight (how many members share the same x, t_x, T).
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1


@dataclass(frozen=True)
class Fit:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


class FitError(ValueError):
    pass


def _log_likelihood(params, x, t_x, T, weights):
    r, alpha, a, b = np.exp(params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return np.sum(weights * (a1 + a2 + np.logaddexp(a3, a4)))


class _Data:
    """The sample, grouped for a fast likelihood with the same value as _log_likelihood's sum over the
    raw rows: identical (x, t_x, T) rows become one weighted row; the terms that depend on x alone (the
    gamma functions) or on T alone are summed per distinct value with the weights summed beforehand, so
    only log(1 + e^d) of the repeat buyers' rows is computed per row:

        log L_i = A(x) − (r + x) log(α + T) + log(1 + e^d)
        d = log a − log(b + x − 1) + (r + x) log((α + T) / (α + t_x))   (repeat buyers; −∞ otherwise)
    """

    def __init__(self, x, t_x, T, weights):
        order = np.lexsort((T, t_x, x))  # much faster than np.unique(axis=0) on a million rows
        keys = np.stack([x[order], t_x[order], T[order]], axis=1)
        start = np.ones(len(keys), dtype=bool)
        start[1:] = np.any(keys[1:] != keys[:-1], axis=1)
        group = np.cumsum(start) - 1
        w = np.bincount(group, weights=weights[order])
        x, t_x, T = keys[start, 0], keys[start, 1], keys[start, 2]
        self.total = float(np.sum(weights))
        self.xs, xi = np.unique(x, return_inverse=True)
        self.w_x = np.bincount(xi, weights=w)  # weight per distinct x
        self.Ts, Ti = np.unique(T, return_inverse=True)
        self.w_T = np.bincount(Ti, weights=w)
        self.xw_T = np.bincount(Ti, weights=w * x)
        repeat = x > 0
        self.rx, self.rw = x[repeat], w[repeat]
        self.rxi, self.rTi = xi[repeat], Ti[repeat]
        self.ts, self.rti = np.unique(t_x[repeat], return_inverse=True)

    def log_likelihood(self, params) -> float:
        r, alpha, a, b = np.exp(params)
        xs = self.xs
        per_x = gammaln(r + xs) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) + gammaln(b + xs) - gammaln(b)
        per_x -= gammaln(a + b + xs)
        log_T = np.log(alpha + self.Ts)
        total = np.dot(per_x, self.w_x) - r * np.dot(log_T, self.w_T) - np.dot(log_T, self.xw_T)
        if len(self.rx):
            with np.errstate(divide="ignore", invalid="ignore"):
                log_b = np.log(np.maximum(b + xs - 1, 1e-300))
            d = (r + self.rx) * (log_T[self.rTi] - np.log(alpha + self.ts)[self.rti])
            d += np.log(a) - log_b[self.rxi]
            total += np.dot(self.rw, np.logaddexp(0.0, d))
        return float(total)


def fit(x, t_x, T, weights=None) -> Fit:
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if len(x) == 0 or not np.any(x > 0):
        raise FitError("no repeat purchases")
    data = _Data(x, t_x, T, weights)
    result = minimize(
        lambda p: -data.log_likelihood(p) / data.total,
        x0=np.log([1.0, max(T.mean(), 1.0), 1.0, 1.0]),
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-10},
    )
    r, alpha, a, b = np.exp(result.x)
    if not np.all(np.isfinite([r, alpha, a, b])) or max(r, alpha, a, b) > 1e6:
        raise FitError("the fit did not converge")
    return Fit(float(r), float(alpha), float(a), float(b), float(-result.fun * data.total))


def p_alive(f: Fit, x, t_x, T):
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.exp((f.r + x) * (np.log(f.alpha + T) - np.log(f.alpha + t_x)))
        odds = np.where(x > 0, f.a / np.maximum(f.b + x - 1, 1e-300) * ratio, 0.0)
    return np.clip(1.0 / (1.0 + odds), 0.0, 1.0)


def expected_purchases(f: Fit, t, x, t_x, T):
    """E[Y(t) | x, t_x, T]: expected purchases in the next t (paper's equation 10)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    r, alpha, a, b = f.r, f.alpha, f.a, f.b
    with np.errstate(all="ignore"):
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        first = (a + b + x - 1) / (a - 1) if a != 1 else np.nan
        numerator = first * (1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp)
        odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300), 0.0) * np.exp(
            (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        value = numerator / (1 + odds)
    return np.where(np.isfinite(value) & (value >= 0), value, np.nan)
