"""The host implementation of the cumulative scans (cumsum, cumprod, cummax, cummin): the
reference, and what backends without a native scan run (the CPU's is
`xla_like/backends/llvm/scan.py`, with the same accumulation rules).

float64 (and complex128) sums are blocked: the scan axis is cut into blocks of `BLOCK`,
each scanned on its own (blocks in parallel, `host_parallel`), then each block gets the sum
of the blocks before it (itself a blocked scan of the block totals). A value's rounding error
then grows with BLOCK + n / BLOCK terms rather than n, as XLA's tree-shaped scan bounds it.
float16/float32 (and complex64) sums and products accumulate in float64 (complex128) in one
pass and round once, so a float32 cumsum of a million elements is within about one float32
rounding of the exact prefix sums. Independent rows go to threads. Integer scans wrap and
max/min are exact, in the input dtype.
"""
from __future__ import annotations

import numpy as np

from .host_parallel import run_parts

BLOCK = 256
_WIDE = {"e": np.float64, "f": np.float64, "F": np.complex128}


def accumulate(ufunc, x, axis):
    """`ufunc.accumulate(x, axis)` in x's dtype, blocked and threaded as the module says."""
    dt = x.dtype
    arith = ufunc in (np.add, np.multiply)
    wide = np.dtype(_WIDE.get(dt.char, dt)) if arith else dt
    if x.size == 0:
        return np.array(x, dtype=dt, copy=True)
    if ufunc is np.add and wide.kind in "fc" and wide == dt:
        # float64/complex128: blocked. A narrower input's float64 running sum is already
        # far inside one rounding of its dtype, so it takes the single pass below.
        y = np.moveaxis(x, axis, -1)
        out = _blocked_sum(y.reshape(-1, y.shape[-1]), wide).reshape(y.shape)
        return np.moveaxis(out, -1, axis)
    # One pass in place: threads take slices along another axis (NumPy scans along a leading
    # axis as whole-row vector steps, so no transpose is made).
    out = np.empty(x.shape, dt)
    others = [d for d in range(x.ndim) if d != axis]
    split = max(others, key=lambda d: x.shape[d]) if others else None

    def work(lo, hi):
        part = (slice(None),) * split + (slice(lo, hi),) if split is not None else ()
        # Widen first, then scan in place: `accumulate(dtype=wide)` casts element by element
        # through a buffer, three times slower.
        t = x[part].astype(wide)
        ufunc.accumulate(t, axis=axis, out=t)
        out[part] = t
    run_parts(work, x.shape[split] if split is not None else 1, x.size)
    return out


def _blocked_sum(rows, wide):
    """Inclusive prefix sums along the last axis of 2-d `rows`, in `wide` (a new array)."""
    r, n = rows.shape
    nb = -(-n // BLOCK)
    buf = np.zeros((r, nb * BLOCK), wide)    # the padding zeros change no prefix sum
    buf[:, :n] = rows
    blocks = buf.reshape(r * nb, BLOCK)

    def scan(lo, hi):
        np.add.accumulate(blocks[lo:hi], axis=1, out=blocks[lo:hi])
    run_parts(scan, r * nb, buf.size)
    if nb > 1:
        totals = blocks[:, -1].reshape(r, nb)
        before = np.zeros((r, nb), wide)
        before[:, 1:] = (_blocked_sum(totals, wide) if nb > BLOCK else
                         np.add.accumulate(totals, axis=1))[:, :-1]
        flat = before.reshape(-1, 1)

        def carry(lo, hi):
            blocks[lo:hi] += flat[lo:hi]
        run_parts(carry, r * nb, buf.size)
    return buf[:, :n]
