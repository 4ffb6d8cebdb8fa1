"""Linear algebra on the CPU backend (native LAPACK calls, `xla_like/backends/cpu/lapack.py`)
against NumPy.

    python benchmarks/linalg.py [--rounds 15] [--n 512] [--batch 10000]

Rows: jitted `jnp.linalg.solve`, `cholesky`, `eigh`, `svd` on one n x n float64 matrix, and a
batch of 4x4 `solve` and `inv` (one jitted call on the whole batch), each against NumPy's
function on the same arrays. One more row solves the batch as `lax.linalg.lu`, b's rows gathered
by the permutation (`take_along_axis`), two triangular solves, which is what the native steps
alone cost (jnp.linalg.solve may permute by other means). Where `jitcore.numpy.linalg` has no
`solve`/`inv`, that form stands in for them. Timing: rounds interleave every case (ours, then NumPy's, case by case), so a slow
spell of the machine hits both sides; each figure is the median over rounds of the best of a
few calls, with the range over rounds. Targets: within 1.3x of NumPy for the n x n rows, at
least 3x faster for the batches. The CPU model and OPENBLAS_CORETYPE are printed with the
table: NumPy's OpenBLAS picks its kernels from that variable, jitcore's from the host.

A JAX column (x64, CPU) comes from a separate process, `jax_side.py`: the same inputs and the
same computation in JAX (`jnp.linalg.*`, the batches as one batched call, the LU row with
`lax.linalg`), timed in the same rounds right after jitcore's and NumPy's calls, with the ratio
jitcore / JAX. Each JAX case is compared once with NumPy's answer (a warning under the table if
not close). Without a JAX Python the column says n/a.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import jitcore
import jitcore.numpy as jnp
from jitcore import lax_linalg

import jax_side
from machine import cpu_model




def _solve(a, b):
    """jnp.linalg.solve, or where it is missing `_lu_solve`."""
    if hasattr(jnp.linalg, "solve"):
        return jnp.linalg.solve(a, b)
    return _lu_solve(a, b)


def _lu_solve(a, b):
    """An LU with partial pivoting, b's rows gathered in the permutation's order, then two
    triangular solves."""
    packed, _, perm = lax_linalg.lu(a)
    pb = jnp.take_along_axis(b, perm[..., None], axis=-2)
    y = lax_linalg.triangular_solve(packed, pb, left_side=True, lower=True, unit_diagonal=True)
    return lax_linalg.triangular_solve(packed, y, left_side=True, lower=False)


def _inv(a):
    if hasattr(jnp.linalg, "inv"):
        return jnp.linalg.inv(a)
    n = a.shape[-1]
    return _solve(a, jnp.broadcast_to(jnp.eye(n, dtype=a.dtype), a.shape))


def _cholesky(a):
    if hasattr(jnp.linalg, "cholesky"):
        return jnp.linalg.cholesky(a)
    return lax_linalg.cholesky(a)


def _eigh(a):
    if hasattr(jnp.linalg, "eigh"):
        return jnp.linalg.eigh(a)
    v, w = lax_linalg.eigh(a)
    return w, v


def _svd(a):
    if hasattr(jnp.linalg, "svd"):
        return jnp.linalg.svd(a)
    return lax_linalg.svd(a)


# The inputs, as source: this process runs `inputs` for jitcore and NumPy, the JAX worker runs the
# same text, so all three sides get the same arrays.
INPUTS = """
def inputs(seed):
    n, batch = {n}, {batch}
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n))
    spd = x @ x.T + n * np.eye(n)
    rhs = rng.standard_normal((n, n))
    small = rng.standard_normal((batch, 4, 4)) + 4 * np.eye(4)
    small_b = rng.standard_normal((batch, 4, 1))
    return dict(x=x, spd=spd, rhs=rhs, small=small, small_b=small_b)
"""

# The same computations in JAX: `build(seed)` gives the jitted function and its arguments.
JAX_LU_SOLVE = """
def lu_solve(a, b):
    packed, _, perm = lax.linalg.lu(a)
    pb = jnp.take_along_axis(b, perm[..., None], axis=-2)
    y = lax.linalg.triangular_solve(packed, pb, left_side=True, lower=True, unit_diagonal=True)
    return lax.linalg.triangular_solve(packed, y, left_side=True, lower=False)
"""


def _jax_case(fn, *keys):
    return (f"def build(seed):\n    d = inputs(seed)\n"
            f"    return jax.jit({fn}), tuple(d[k] for k in {keys!r})\n")


def cases(n, batch):
    src = INPUTS.format(n=n, batch=batch)
    d = jax_side.local_inputs(src, 0)
    x, spd, rhs, small, small_b = (d[k] for k in ("x", "spd", "rhs", "small", "small_b"))
    # Per case: name, jitcore, NumPy, args, target, JAX source, which output to compare (SVD's
    # singular values, eigh's eigenvalues: the vectors are fixed only up to sign).
    return [
        (f"solve {n}x{n}, {n} rhs", jitcore.jit(_solve), np.linalg.solve, (x, rhs), 1.3,
         src + _jax_case("jnp.linalg.solve", "x", "rhs"), 0),
        (f"cholesky {n}x{n}", jitcore.jit(_cholesky), np.linalg.cholesky, (spd,), 1.3,
         src + _jax_case("jnp.linalg.cholesky", "spd"), 0),
        (f"eigh {n}x{n}", jitcore.jit(_eigh), np.linalg.eigh, (spd,), 1.3,
         src + _jax_case("jnp.linalg.eigh", "spd"), 0),
        (f"svd {n}x{n}", jitcore.jit(_svd), np.linalg.svd, (x,), 1.3,
         src + _jax_case("jnp.linalg.svd", "x"), 1),
        (f"solve {batch} x 4x4", jitcore.jit(_solve), np.linalg.solve, (small, small_b), 1 / 3,
         src + _jax_case("jnp.linalg.solve", "small", "small_b"), 0),
        (f"lu + gather + 2 trsm, {batch} x 4x4", jitcore.jit(_lu_solve), np.linalg.solve,
         (small, small_b), 1 / 3, src + JAX_LU_SOLVE + _jax_case("lu_solve", "small", "small_b"),
         0),
        (f"inv {batch} x 4x4", jitcore.jit(_inv), np.linalg.inv, (small,), 1 / 3,
         src + _jax_case("jnp.linalg.inv", "small"), 0),
    ]


def best_of(fn, args, calls):
    best = float("inf")
    for _ in range(calls):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def check(name, ours, theirs, args):
    got = ours(*args)
    want = theirs(*args)
    if name.startswith(("solve", "inv", "cholesky", "lu")):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-8, atol=1e-8)
    elif name.startswith("eigh"):
        np.testing.assert_allclose(np.asarray(got[0]), want[0], rtol=1e-8, atol=1e-8)
    else:
        np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-8, atol=1e-8)


def check_jax(side, name, source, part, theirs, args, notes):
    """Compile the case in JAX and compare one of its outputs with NumPy's, once."""
    if not side.define(name, source):
        if side.available:
            notes.append(f"JAX could not run '{name}': {side.errors.get(name)}")
        return
    got = side.result(name)
    want = theirs(*args)
    if isinstance(want, tuple):
        want = want[part]
    if got is None or not np.allclose(got[part], want, rtol=1e-8, atol=1e-8):
        notes.append(f"warning: JAX's '{name}' differs from NumPy's (np.allclose, rtol=atol=1e-8)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=3, help="calls per round (best taken)")
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--batch", type=int, default=10000)
    opts = ap.parse_args()
    table = cases(opts.n, opts.batch)
    side = jax_side.JaxSide()
    notes = []
    for name, ours, theirs, args, _, source, part in table:
        check(name, ours, theirs, args)      # also compiles
        check_jax(side, name, source, part, theirs, args, notes)
    times = {name: ([], [], []) for name, *_ in table}
    for _ in range(opts.rounds):
        for name, ours, theirs, args, *_ in table:
            times[name][0].append(best_of(ours, args, opts.calls))
            times[name][1].append(best_of(theirs, args, opts.calls))
            times[name][2].append(side.time(name, opts.calls))
    side.close()
    from xla_like.backends.cpu import blas
    lib = blas.load()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(not set)')}; "
          f"jitcore's OpenBLAS core: {lib.corename}; NumPy {np.__version__}")
    print(side.label())
    print(f"{opts.rounds} interleaved rounds (jitcore, NumPy, JAX), best of {opts.calls} calls "
          f"each; median [min-max] in ms\n")
    print("| case | jitcore | NumPy | jitcore / NumPy | target | met | JAX | jitcore / JAX |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, *_, target, _, _ in table:
        ours, theirs, jx = times[name]
        ratio = statistics.median(ours) / statistics.median(theirs)
        fmt = lambda v: (f"{statistics.median(v) * 1e3:.3f} "  # noqa: E731
                         f"[{min(v) * 1e3:.3f}-{max(v) * 1e3:.3f}]")
        goal = f"<= {target:.2f}" if target >= 1 else f"<= {target:.2f} (>= {1 / target:.0f}x faster)"
        # A round whose JAX call failed makes the whole cell n/a rather than a median of fewer.
        has_jax = all(t is not None for t in jx)
        jax_cell = fmt(jx) if has_jax else "n/a"
        jax_ratio = (f"{statistics.median(ours) / statistics.median(jx):.2f}" if has_jax
                     else "n/a")
        print(f"| {name} | {fmt(ours)} | {fmt(theirs)} | {ratio:.2f} | {goal} | "
              f"{'yes' if ratio <= target else 'no'} | {jax_cell} | {jax_ratio} |")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
