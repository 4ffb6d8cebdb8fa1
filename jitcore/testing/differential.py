"""Random programs on a compiling backend against the reference interpreter.

    check(program, backend="cpu")    # raises Mismatch with a description on any difference

- "plain": the jitted function on both backends, each output within its error bound (exact
  where the bound is zero).
- "vmap": `jit(vmap(f))` on the backend against a Python loop over the batch of the jitted
  function on the interpreter, each batch element within its bound.
- "grad": `jit(value_and_grad(loss))` on both backends (the same transformed module), where the
  loss is a weighted sum of the program's float outputs; then a finite-difference spot check of
  the interpreter's gradient in float64, one random direction per fragment.

How values are compared: shapes and dtypes equal; integers and booleans exactly; for floats the
NaN positions equal, infinities equal with their sign, finite values within the bound. -0.0 and
0.0 compare equal: a backend may legitimately produce either (a sum's identity is +0.0 where
NumPy starts from the first element), and where a zero's sign matters to a later op (1/x,
atan2, copysign, signbit, sign) the random programs contain that op and its result differs.
"""
from __future__ import annotations

import numpy as np

from .. import jit, vmap, value_and_grad
from .. import numpy as jnp
from .random_programs import Program
from .random_values import TOL

# Gradients have no per-value error bound: they are compared within this many times the
# dtype's rounding allowance, relative to the largest magnitude of the result.
GRAD_TOL_FACTOR = 100
# Finite differences: step along the direction, and tolerance relative to the sum of the
# magnitudes of the terms of the directional derivative.
FD_STEP = 1e-6
FD_RTOL = 1e-5


class Mismatch(AssertionError):
    """The backend's result differs from the interpreter's beyond the allowed error."""


def _first_bad(mask):
    idx = np.argwhere(mask)
    return tuple(int(i) for i in idx[0]) if idx.size else ()


def compare(got, want, err=None, rtol=None, what="value"):
    """Raise Mismatch unless `got` equals `want` within `err` (elementwise bound) or `rtol`
    (relative to the largest finite magnitude of `want`); both absent: exactly."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        raise Mismatch(f"{what}: got {got.dtype}{list(got.shape)}, want "
                       f"{want.dtype}{list(want.shape)}")
    if want.dtype.kind != "f":
        if not np.array_equal(got, want):
            at = _first_bad(got != want)
            raise Mismatch(f"{what}: at {at} got {got[at]!r}, want {want[at]!r}")
        return
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        if not np.array_equal(test(got), test(want)):
            at = _first_bad(test(got) != test(want))
            raise Mismatch(f"{what}: {name} positions differ; at {at} got {got[at]!r}, want "
                           f"{want[at]!r}")
    finite = np.isfinite(want)
    g, w = got.astype(np.float64), want.astype(np.float64)
    allowed = np.zeros(want.shape)
    if err is not None:
        allowed = allowed + 2 * np.asarray(err)
    if rtol is not None and finite.any():
        allowed = allowed + rtol * max(1.0, float(np.max(np.abs(w[finite]))))
    with np.errstate(invalid="ignore"):
        bad = finite & ~(np.abs(g - w) <= allowed)
    if bad.any():
        at = _first_bad(bad)
        raise Mismatch(f"{what}: {int(bad.sum())} of {want.size} elements differ; at {at} got "
                       f"{got[at]!r}, want {want[at]!r} (allowed difference {allowed[at]:.3g})")


def _outputs(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def check(program: Program, backend: str = "cpu"):
    {"plain": _check_plain, "vmap": _check_vmap, "grad": _check_grad}[program.kind](
        program, backend)


def compiled_function(program: Program):
    """The function whose jitted module the backend runs in `check`, and its arguments."""
    args = program.inputs
    if program.kind == "vmap":
        return vmap(program.fn, in_axes=program.in_axes,
                    axis_size=program.parts[0].batch), args
    if program.kind == "grad":
        return value_and_grad(loss_function(program), _float_args(program)), args
    return program.fn, args


def ir_text(program: Program) -> str:
    fn, args = compiled_function(program)
    return jit(fn).lower(*args).as_text()


def _check_plain(program, backend):
    fn, args = compiled_function(program)
    want = _outputs(jit(fn, backend="interp")(*args))
    got = _outputs(jit(fn, backend=backend)(*args))
    for k, (g, w, e) in enumerate(zip(got, want, program.out_err)):
        compare(g, w, None if e is None else e[0], what=f"output {k}")


def _check_vmap(program, backend):
    fn, args = compiled_function(program)
    axes, batch = program.in_axes, program.parts[0].batch
    got = _outputs(jit(fn, backend=backend)(*args))
    one = jit(program.fn, backend="interp")
    per_example = [_outputs(one(*[x if ax is None else np.take(x, b, axis=ax)
                                  for x, ax in zip(args, axes)])) for b in range(batch)]
    examples = [v for p in program.parts for v in p.out_values]
    for k, (g, e) in enumerate(zip(got, program.out_err)):
        if batch:
            want = np.stack([np.asarray(outs[k]) for outs in per_example])
        else:
            want = np.zeros((0,) + examples[k][0].shape, examples[k][0].dtype)
        bound = None if e is None else np.stack(e[:batch]) if batch else np.zeros(want.shape)
        compare(g, want, bound, what=f"output {k}")


def _float_args(program):
    return tuple(i for i, x in enumerate(program.inputs) if x.dtype.kind == "f")


def loss_function(program: Program):
    """A weighted sum of every float output, in float64: a scalar to differentiate."""
    weights = [w for p in program.parts for w in p.out_weights]

    def loss(*args):
        total = jnp.zeros((), np.float64)
        for out, w in zip(program.fn(*args), weights):
            if w is not None:
                total = total + jnp.sum(out.astype(np.float64) * w)
        return total
    return loss


def _check_grad(program, backend):
    fn, args = compiled_function(program)
    wrt = _float_args(program)
    want_v, want_g = jit(fn, backend="interp")(*args)
    got_v, got_g = jit(fn, backend=backend)(*args)
    # Float32 inputs or casts anywhere: float32's allowance for everything.
    low = np.float64 if all(p.float64_only for p in program.parts) else np.float32
    tol = TOL[np.dtype(low)] * GRAD_TOL_FACTOR
    compare(got_v, want_v, rtol=tol, what="loss")
    for i, g, w in zip(wrt, got_g, want_g):
        compare(g, w, rtol=tol, what=f"gradient for argument {i}")
    _finite_differences(program, loss_function(program), args, dict(zip(wrt, want_g)))


def _finite_differences(program, loss, args, grads):
    """Differences of the interpreted loss along a random direction in each float64 fragment's
    inputs, against the gradient's directional derivative.

    The loss is evaluated at -h, -h/2, 0, h/2, h: four slopes over steps of h/2. A side of 0 is
    clean when its two slopes agree (no kink or jump of abs, max, floor, sign or a branch
    there). The gradient must match the clean slope next to 0 on either side, or lie between
    the two when both are clean (a kink at the point itself: the derivative of abs, relu or
    a tie of max takes one side or the mean). No clean side: no verdict. Fragments with
    float32 or float16 values inside are skipped: their rounding swamps a small step.
    """
    f = jit(loss, backend="interp")
    rng = np.random.default_rng([program.seed, 1])
    base = 0
    for part, frag_id in zip(program.parts, program.fragment_ids):
        mine = [i for i in grads if base <= i < base + len(part.inputs)]
        base += len(part.inputs)
        if not part.float64_only or not mine or not all(
                np.isfinite(args[i]).all() and np.isfinite(grads[i]).all() for i in mine):
            continue
        direction = {i: rng.normal(size=args[i].shape) for i in mine}
        slope = sum(float(np.sum(grads[i] * direction[i])) for i in mine)
        scale = max(1.0, sum(float(np.sum(np.abs(grads[i] * direction[i]))) for i in mine))

        def at(t):
            moved = [x + t * direction[i] if i in direction else x for i, x in enumerate(args)]
            return float(f(*moved))
        values = [at(t * FD_STEP) for t in (-1.0, -0.5, 0.0, 0.5, 1.0)]
        if not np.isfinite(values).all():
            continue
        s = np.diff(values) / (FD_STEP / 2)
        tol = FD_RTOL * scale + 1e-8 * max(abs(v) for v in values) / FD_STEP
        left, right = abs(s[0] - s[1]) <= tol, abs(s[2] - s[3]) <= tol
        if left and right:
            ok = min(s[1], s[2]) - tol <= slope <= max(s[1], s[2]) + tol
        elif left or right:
            ok = abs(slope - (s[1] if left else s[2])) <= 2 * tol
        else:
            continue
        if not ok:
            raise Mismatch(f"fragment {frag_id}: the gradient's directional derivative is "
                           f"{slope!r}; finite differences give {s[1]!r} on the left, "
                           f"{s[2]!r} on the right")
