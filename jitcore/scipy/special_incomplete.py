"""Incomplete gamma and beta functions (`gammainc`, `gammaincc`, `betainc`, `betaln`), shared by
`jitcore.scipy.special` and `jitcore.lax` (`igamma`, `igammac`, `betainc`, `igamma_grad_a`,
`random_gamma_grad`).

The iterations are Cephes' (a power series for P(a, x) where x < a or x < 1, the continued
fraction for Q(a, x) elsewhere; Lentz's continued fraction for the beta function), run with
`lax.while_loop` until every element has converged. They always run in float64 and round once
at the end, so float32 results are correctly rounded in almost every case. The derivative of
P with respect to `a` is carried through the same iterations (forward-mode by hand), as XLA's
`igamma_grad_a` does; the derivatives with respect to `x` are the closed forms.
"""
from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as jnp
from ..custom_derivatives import custom_jvp
from ..numpy._promotion import aval_of, promote_to_inexact
from .special import _gammaln_impl, _digamma_impl

# What `jitcore.lax` re-exports (the scipy names are imported by `special_extras`).
__all__ = ["igamma", "igammac", "igamma_grad_a", "random_gamma_grad", "betainc"]

_EPS = 2.0 ** -53
_MAXLOG = 7.09782712893383996843E2
_BIG = 4.503599627370496e15
_BIGINV = 2.22044604925031308085e-16
_MAXITER = 2000


def _f64(x):
    return lax.convert_element_type(x, np.float64)


def _in_f64(fn, *args):
    """`fn` on the float64 versions of `args` (already one inexact dtype), rounded back."""
    d = aval_of(args[0]).dtype
    if d == np.float64:
        return fn(*args)   # (no conversion, which would drop a weak type)
    out = fn(*[_f64(a) for a in args])
    if isinstance(out, tuple):
        return tuple(lax.convert_element_type(o, d) for o in out)
    return lax.convert_element_type(out, d)


def _broadcast(*xs):
    shape = np.broadcast_shapes(*[aval_of(x).shape for x in xs])
    return [x if aval_of(x).shape == shape else jnp.broadcast_to(x, shape) for x in xs]


def _loop(active0, init, step):
    """Run `step(state) -> (new_state, converged)` elementwise until no element is active;
    elements stop updating once they converge (or start inactive)."""
    def cond(carry):
        n, active, _ = carry
        return (n < _MAXITER) & jnp.any(active)

    def body(carry):
        n, active, state = carry
        new, converged = step(state)
        state = tuple(jnp.where(active, s1, s0) for s0, s1 in zip(state, new))
        return n + 1, active & ~converged, state

    _, _, out = lax.while_loop(cond, body, (jnp.asarray(0, np.int32), active0, tuple(init)))
    return out


# --- the regularized incomplete gamma functions ---------------------------------------------

def _log_prefactor(a, x):
    """log(x^a e^-x / Gamma(a)) and its derivative with respect to `a`."""
    direct = a * jnp.log(x) - x - _gammaln_impl(a)
    # For a >= 10, Stirling's form a (log1p(d) - d) + log(a / 2 pi) / 2 - corr(a), with
    # d = (x - a) / a, avoids the cancellation of a log x against lgamma(a) (both ~ a log a).
    big = a >= 10.0
    sa = jnp.where(big, a, 10.0)
    d = (x - sa) / sa
    # log(x / a) from d only near 1, where x / a would round away digits of d.
    log_ratio = jnp.where(jnp.abs(d) < 0.5, jnp.log1p(d), jnp.log(x / sa))
    stirling = sa * (log_ratio - d) + 0.5 * jnp.log(sa / (2 * math.pi)) - _stirling_corr(sa)
    return jnp.where(big, stirling, direct), jnp.log(x) - _digamma_impl(a)


def _igamma_series(a, x, active):
    """P(a, x) and dP/da by the power series (where `active`)."""
    one, zero = jnp.ones_like(x), jnp.zeros_like(x)

    def step(s):
        r, c, ans, dc, dans = s
        r = r + 1.0
        c1 = c * x / r
        dc1 = dc * x / r - c1 / r
        ans, dans = ans + c1, dans + dc1
        done = (c1 <= _EPS * ans) & (jnp.abs(dc1) <= _EPS * jnp.abs(dans))
        return (r, c1, ans, dc1, dans), done

    _, _, ans, _, dans = _loop(active, (a, one, one, zero, zero), step)
    logp, dlogp = _log_prefactor(a, x)
    e = jnp.exp(logp)
    p = e * ans / a
    return p, p * dlogp + e * (dans / a - ans / (a * a))


def _igammac_cf(a, x, active):
    """Q(a, x) and dQ/da by the continued fraction (where `active`)."""
    y = 1.0 - a
    z = x + y + 1.0
    zero = jnp.zeros_like(x)
    pkm2, qkm2, pkm1, qkm1 = jnp.ones_like(x), x, x + 1.0, z * x
    init = (y, z, zero, pkm2, qkm2, pkm1, qkm1, zero, zero, zero, -x, pkm1 / qkm1, zero)

    def step(s):
        y, z, c, pkm2, qkm2, pkm1, qkm1, dpkm2, dqkm2, dpkm1, dqkm1, ans, dans = s
        c, y, z = c + 1.0, y + 1.0, z + 2.0
        yc = y * c
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        # dy/da = dz/da = -1, so d(yc)/da = -c.
        dpk = dpkm1 * z - pkm1 - dpkm2 * yc + pkm2 * c
        dqk = dqkm1 * z - qkm1 - dqkm2 * yc + qkm2 * c
        ok = qk != 0
        qs = jnp.where(ok, qk, 1.0)
        r = pk / qs
        dr = (dpk - r * dqk) / qs
        t = jnp.where(ok, jnp.abs((ans - r) / jnp.where(r == 0, 1.0, r)), 1.0)
        dt = jnp.where(ok, jnp.abs(dans - dr), 1.0)
        ans1, dans1 = jnp.where(ok, r, ans), jnp.where(ok, dr, dans)
        # Rescale p and q (and their derivatives) when they grow large: the ratio is unchanged.
        sc = jnp.where(jnp.abs(pk) > _BIG, _BIGINV, 1.0)
        new = (y, z, c, pkm1 * sc, qkm1 * sc, pk * sc, qk * sc,
               dpkm1 * sc, dqkm1 * sc, dpk * sc, dqk * sc, ans1, dans1)
        return new, (t <= _EPS) & (dt <= _EPS * jnp.abs(dans1))

    out = _loop(active, init, step)
    ans, dans = out[-2], out[-1]
    logp, dlogp = _log_prefactor(a, x)
    e = jnp.exp(logp)
    q = e * ans
    return q, q * dlogp + e * dans


def _igamma_both(a, x):
    """(P, dP/da, Q) for float64 `a`, `x` of one shape, with JAX's edge cases."""
    # a = 0 is the limit P = 1 for x > 0 (JAX's convention); P(0, 0) is NaN.
    a_zero = (a == 0) & (x > 0)
    bad = (x < 0) | ((a <= 0) & ~a_zero) | jnp.isnan(a) | jnp.isnan(x) | jnp.isinf(a)
    x_zero = x == 0
    x_inf = (jnp.isinf(x) | a_zero) & ~bad
    use_cf = (x > 1.0) & (x > a)
    usable = ~bad & ~x_zero & ~x_inf
    # Safe stand-ins where an element takes the other branch or an edge value, so that neither
    # iteration sees inf/nan/0 (the results there are replaced below).
    sa = jnp.where(usable, a, 1.0)
    sx_series = jnp.where(usable & ~use_cf, x, 0.5)
    sx_cf = jnp.where(usable & use_cf, x, 2.0)
    p_s, dp_s = _igamma_series(sa, sx_series, usable & ~use_cf)
    q_c, dq_c = _igammac_cf(sa, sx_cf, usable & use_cf)
    # Where the prefactor underflows, the answer is 0 (or 1) to every digit.
    under_s = _log_prefactor(sa, sx_series)[0] < -_MAXLOG
    under_c = _log_prefactor(sa, sx_cf)[0] < -_MAXLOG
    p_s, dp_s = jnp.where(under_s, 0.0, p_s), jnp.where(under_s, 0.0, dp_s)
    q_c, dq_c = jnp.where(under_c, 0.0, q_c), jnp.where(under_c, 0.0, dq_c)
    p = jnp.where(use_cf, 1.0 - q_c, p_s)
    q = jnp.where(use_cf, q_c, 1.0 - p_s)
    dp = jnp.where(use_cf, -dq_c, dp_s)
    nan = np.nan
    p = jnp.where(bad, nan, jnp.where(x_zero, 0.0, jnp.where(x_inf, 1.0, p)))
    q = jnp.where(bad, nan, jnp.where(x_zero, 1.0, jnp.where(x_inf, 0.0, q)))
    dp = jnp.where(bad, nan, jnp.where(x_zero | x_inf, 0.0, dp))
    return p, dp, q


def _igamma_dx(a, x):
    """dP/dx = x^(a-1) e^-x / Gamma(a)."""
    return jnp.exp((a - 1.0) * jnp.log(x) - x - _in_f64(_gammaln_impl, a))


def _igamma_grad_a_impl(a, x):
    return _in_f64(lambda a, x: _igamma_both(a, x)[1], a, x)


@custom_jvp
def _igamma(a, x):
    return _in_f64(lambda a, x: _igamma_both(a, x)[0], a, x)


@custom_jvp
def _igammac(a, x):
    return _in_f64(lambda a, x: _igamma_both(a, x)[2], a, x)


_igamma.defjvps(lambda g, ans, a, x: g * _igamma_grad_a_impl(a, x),
                lambda g, ans, a, x: g * _igamma_dx(a, x))
_igammac.defjvps(lambda g, ans, a, x: -g * _igamma_grad_a_impl(a, x),
                 lambda g, ans, a, x: -g * _igamma_dx(a, x))


def _prep(name, *args):
    return _broadcast(*promote_to_inexact(name, *args))


def igamma(a, x):
    """The regularized lower incomplete gamma function P(a, x) (`lax.igamma`)."""
    return _igamma(*_prep("igamma", a, x))


def igammac(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x) (`lax.igammac`)."""
    return _igammac(*_prep("igammac", a, x))


def igamma_grad_a(a, x):
    """dP(a, x)/da (`lax.igamma_grad_a`)."""
    return _igamma_grad_a_impl(*_prep("igamma_grad_a", a, x))


def random_gamma_grad(a, x):
    """The derivative of a Gamma(a, 1) sample `x` with respect to `a`, at fixed quantile:
    -(dP/da) / (dP/dx) (`lax.random_gamma_grad`)."""
    a, x = _prep("random_gamma_grad", a, x)
    return -_igamma_grad_a_impl(a, x) / _igamma_dx(a, x)


def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x) (NaN for a <= 0 or x < 0)."""
    return igamma(a, x)


def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return igammac(a, x)


# --- log of the beta function ---------------------------------------------------------------

# Stirling's series for log Gamma(x) - ((x - 1/2) log x - x + log(2 pi)/2), x >= 10:
# B_2k / (2k (2k - 1) x^(2k - 1)), truncated where the next term is below 1e-17.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156,
             -3617 / 122400)


def _stirling_corr(x):
    w = 1.0 / (x * x)
    s = jnp.full_like(x, _STIRLING[-1])
    for c in _STIRLING[-2::-1]:
        s = s * w + c
    return s / x


def _betaln_impl(a, b):
    big, small = jnp.maximum(a, b), jnp.minimum(a, b)
    direct = _gammaln_impl(a) + _gammaln_impl(b) - _gammaln_impl(a + b)
    # For big >= 10 (and small > 0), lgamma(big) - lgamma(big + small) in Stirling's form,
    # without the cancellation of two huge logs (betaln(1e10, 1) = -log(1e10) exactly).
    use = (big >= 10.0) & (small > 0)
    bb = jnp.where(use, big, 10.0)
    ss = jnp.where(use, small, 1.0)
    s = bb + ss
    diff = (-(bb - 0.5) * jnp.log1p(ss / bb) - ss * jnp.log(s) + ss
            + _stirling_corr(bb) - _stirling_corr(s))
    return jnp.where(use, _gammaln_impl(ss) + diff, direct)


@custom_jvp
def _betaln(a, b):
    return _in_f64(_betaln_impl, a, b)


def _betaln_da(a, b):
    return _in_f64(lambda a, b: _digamma_impl(a) - _digamma_impl(a + b), a, b)


_betaln.defjvps(lambda g, ans, a, b: g * _betaln_da(a, b),
                lambda g, ans, a, b: g * _betaln_da(b, a))


def betaln(a, b):
    """log|B(a, b)|, the log of the beta function."""
    return _betaln(*_prep("betaln", a, b))


# --- the regularized incomplete beta function -----------------------------------------------

_TINY = 1e-300


def _guard(v):
    return jnp.where(jnp.abs(v) < _TINY, _TINY, v)


def _betacf(a, b, x, active):
    """Lentz's evaluation of the continued fraction of I_x(a, b) (Numerical Recipes' betacf),
    with its derivatives with respect to a and b carried along (dual numbers by hand)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    zero = jnp.zeros_like(x)
    u = 1.0 - qab * x / qap
    d = 1.0 / _guard(u)
    du_a = -x / qap + qab * x / (qap * qap)
    du_b = -x / qap
    dd_a, dd_b = -du_a * d * d, -du_b * d * d

    def lentz(aa, daa, dab, c, d, h, dc, dd, dh):
        """One Lentz step for coefficient `aa` (with d aa/da, d aa/db)."""
        d1 = 1.0 / _guard(1.0 + aa * d)
        c1 = _guard(1.0 + aa / c)
        dd1 = tuple(-(dx * d + aa * ddx) * d1 * d1 for dx, ddx in zip((daa, dab), dd))
        dc1 = tuple(dx / c - aa * dcx / (c * c) for dx, dcx in zip((daa, dab), dc))
        h1 = h * d1 * c1
        dh1 = tuple(dhx * d1 * c1 + h * (ddx * c1 + d1 * dcx)
                    for dhx, ddx, dcx in zip(dh, dd1, dc1))
        return c1, d1, h1, dc1, dd1, dh1, d1 * c1

    def step(s):
        m, c, d, h, dc_a, dc_b, dd_a, dd_b, dh_a, dh_b = s
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        daa = -aa * (1.0 / (qam + m2) + 1.0 / (a + m2))
        dab = m * x / ((qam + m2) * (a + m2))
        c, d, h, dc, dd, dh, _ = lentz(aa, daa, dab, c, d, h, (dc_a, dc_b), (dd_a, dd_b),
                                       (dh_a, dh_b))
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        daa = aa * (1.0 / (a + m) + 1.0 / (qab + m) - 1.0 / (a + m2) - 1.0 / (qap + m2))
        dab = aa / (qab + m)
        dh_old = dh
        c, d, h, dc, dd, dh, delta = lentz(aa, daa, dab, c, d, h, dc, dd, dh)
        # Converged when the value and both derivatives have stopped moving.
        done = jnp.abs(delta - 1.0) <= _EPS
        for new_, old_ in zip(dh, dh_old):
            done = done & (jnp.abs(new_ - old_) <= _EPS * jnp.abs(new_) + _TINY)
        return (m + 1.0, c, d, h) + dc + dd + dh, done

    init = (jnp.ones_like(x), jnp.ones_like(x), d, d, zero, zero, dd_a, dd_b, dd_a, dd_b)
    out = _loop(active, init, step)
    return out[3], out[8], out[9]


def _betainc_parts(a, b, x):
    """I_x(a, b) and its derivatives with respect to a and b, with JAX's edge cases."""
    bad = (a < 0) | (b < 0) | ((a == 0) & (b == 0)) | (x < 0) | (x > 1) \
        | jnp.isnan(a) | jnp.isnan(b) | jnp.isnan(x) | jnp.isinf(a) | jnp.isinf(b)
    # I_x(0, b) = 1 and I_x(a, 0) = 0 for 0 < x < 1 (limits; SciPy's and JAX's convention).
    edge = (x == 0) | (x == 1) | (a == 0) | (b == 0)
    edge_val = jnp.where(x == 0, 0.0, jnp.where(x == 1, 1.0, jnp.where(a == 0, 1.0, 0.0)))
    usable = ~bad & ~edge
    # I_x(a, b) = 1 - I_{1-x}(b, a): the fraction converges fast below the mean.
    swap = x > (a + 1.0) / (a + b + 2.0)
    sa = jnp.where(usable, jnp.where(swap, b, a), 1.0)
    sb = jnp.where(usable, jnp.where(swap, a, b), 1.0)
    sx = jnp.where(usable, jnp.where(swap, 1.0 - x, x), 0.5)
    log_front = sa * jnp.log(sx) + sb * jnp.log1p(-sx) - _betaln_impl(sa, sb) - jnp.log(sa)
    front = jnp.exp(log_front)
    h, dh_a, dh_b = _betacf(sa, sb, sx, usable)
    psi_ab = _digamma_impl(sa + sb)
    val = front * h
    g_a = val * (jnp.log(sx) - _digamma_impl(sa) + psi_ab - 1.0 / sa) + front * dh_a
    g_b = val * (jnp.log1p(-sx) - _digamma_impl(sb) + psi_ab) + front * dh_b
    val = jnp.where(swap, 1.0 - val, val)
    g_a, g_b = jnp.where(swap, -g_b, g_a), jnp.where(swap, -g_a, g_b)
    nan = np.nan
    val = jnp.where(bad, nan, jnp.where(edge, edge_val, val))
    g_a = jnp.where(bad, nan, jnp.where(edge, 0.0, g_a))
    g_b = jnp.where(bad, nan, jnp.where(edge, 0.0, g_b))
    return val, g_a, g_b


def _betainc_dx(a, b, x):
    return jnp.exp((a - 1.0) * jnp.log(x) + (b - 1.0) * jnp.log1p(-x)
                   - _in_f64(_betaln_impl, a, b))


@custom_jvp
def _betainc(a, b, x):
    return _in_f64(lambda a, b, x: _betainc_parts(a, b, x)[0], a, b, x)


def _betainc_jvp(primals, tangents):
    a, b, x = primals
    ta, tb, tx = tangents
    val, g_a, g_b = _in_f64(_betainc_parts, a, b, x)
    return val, ta * g_a + tb * g_b + tx * _betainc_dx(a, b, x)


_betainc.defjvp(_betainc_jvp)


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b) (`lax.betainc` and
    `jax.scipy.special.betainc`). Unlike JAX, it is differentiable in `a` and `b` too."""
    return _betainc(*_prep("betainc", a, b, x))
