"""`jitcore.nn.dot_product_attention`: scaled dot-product attention with `jax.nn`'s API.

Shapes follow JAX: query (B, T, N, H), key and value (B, S, K, H) (or the same without B), with
N a multiple of K (grouped-query attention: query head n reads key/value head n // (N // K)).
Bias and boolean mask are 4-D and broadcast to (B, N, T, S). Masked logits take JAX's finite
value -0.7 * float32 max, so a row with every key masked averages all values, as JAX's does.

The logits are accumulated in promote(query dtype, float32) and the softmax runs in that dtype:
float32 for bfloat16, float16 and float32 inputs, float64 for float64 inputs (JAX runs the
softmax in float32 even for float64 inputs; keeping float64 here only makes the result more
accurate).

Three ways of computing the same numbers (all composites of jnp/lax ops, so jit, vmap and grad
see ordinary primitives):
- "plain": the (T, S) logits of every head at once, then a softmax and a second einsum;
- "query_blocks": `lax.map` over blocks of queries, each one a "plain" attention of its rows,
  so the live logits are (Tb, S) per head;
- "flash": the same query blocks, each running an online softmax (FlashAttention's running
  maximum, running sum and rescaled accumulator) in a `lax.scan` over key blocks.
Measured under jit on the CPU backend (2 shared, loaded cores, so noisy; best of 6-7 calls) at
(B=4, T=S=1024, N=8, H=64) float32: plain 361 / 613 ms in two runs; query_blocks with 128-row
blocks 474 / 1065 ms, 256-row blocks 510 / 871 ms; flash (64 x 1024 blocks) 766 / 1143 ms,
(128 x 512) 814 / 1279 ms; einsum + jitcore.nn.softmax on (B, N, T, S) 717 ms. The dots go to
BLAS either way, and the loop adds per-step costs that the smaller working set does not win
back here, so "plain" is the default up to that size (128 MiB of float32 logits) and
"query_blocks" with 256-row blocks bounds the memory beyond it.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ops import dtypes
from ops.errors import DtypeError, InvalidOptionError, ShapeError

from .. import lax
from .. import numpy as jnp
from ..numpy._promotion import aval_of, asarray

__all__ = ["dot_product_attention"]

# Up to this many logits in all (B * N * T * S) the single-shot version is used (it measured
# fastest, see above); past it the blocked one keeps the live logits to B * N * _Q_BLOCK * S.
_PLAIN_MAX_LOGITS = 4 * 8 * 1024 * 1024
_DEFAULT = "query_blocks"
_Q_BLOCK = 256
_K_BLOCK = 512


def _large_negative(dtype):
    """JAX's masked logit: -0.7 times the dtype's max, capped at float32's range so that it
    stays finite once converted to float32."""
    big = min(float(ml_dtypes.finfo(dtype).max), float(ml_dtypes.finfo(np.float32).max))
    return np.asarray(-0.7 * big, dtype=dtype)


def _ensure_4d(t):
    t = asarray(t)
    missing = 4 - aval_of(t).ndim
    return jnp.expand_dims(t, tuple(range(missing))) if missing > 0 else t


def _check(t, shape, dtype, name):
    if t is None:
        return
    a = aval_of(t)
    if a.ndim != len(shape):
        raise ShapeError(f"dot_product_attention: {name} must have {len(shape)} dimensions, "
                         f"got {a.str_short()}")
    if dtype is not None and a.dtype != dtype:
        raise DtypeError(f"dot_product_attention: {name} dtype must be {np.dtype(dtype).name}, "
                         f"got {a.str_short()}")
    for want, got in zip(shape, a.shape):
        if want != -1 and want != got:
            raise ShapeError(f"dot_product_attention: {name} shape must be "
                             f"{tuple('?' if s == -1 else s for s in shape)}, got "
                             f"{a.str_short()}")


def _grouped(t, B, N, K, T, S, name):
    """A (b, n, t, s) bias or mask as (b, K or 1, G or 1, t, s) matching the grouped query."""
    if t is None:
        return None
    a = aval_of(t)
    b, n, tt, ss = a.shape
    for got, full, what in ((b, B, "B"), (n, N, "N"), (tt, T, "T"), (ss, S, "S")):
        if got not in (1, full):
            raise ShapeError(f"dot_product_attention: {name} {a.str_short()} does not broadcast "
                             f"to (B, N, T, S) = ({B}, {N}, {T}, {S}) (axis {what})")
    if n == 1:
        return jnp.reshape(t, (b, 1, 1, tt, ss))
    return jnp.reshape(t, (b, K, N // K, tt, ss))


class _Problem:
    """Everything that does not change from block to block.

    A block of query rows is held as (B*K, G*t, H) and its logits as a 2-D (B*K*G*t, s) array
    of rows: the softmax reductions then see no size-1 axes, which the CPU backend's row
    fusion handles far faster than a 5-D (B, K, G, t, s) array with a degenerate axis."""

    def __init__(self, shape, scale, logits_dtype, out_dtype, is_causal, window, q_len,
                 kv_len):
        self.B, self.K, self.G = shape
        self.scale = np.asarray(scale, dtype=logits_dtype)
        self.logits_dtype = logits_dtype
        self.out_dtype = out_dtype
        self.is_causal = is_causal
        self.window = window
        self.q_len = q_len
        self.kv_len = kv_len

    def rows(self, x, t):
        """A per-(b, k, g, i) array of shape (b|1, k|1, g|1, t|1, s|1) as (B*K*G*t, s|1)."""
        a = aval_of(x)
        full = (self.B, self.K, self.G, t, a.shape[4])
        return jnp.reshape(jnp.broadcast_to(x, full), (self.B * self.K * self.G * t, full[4]))

    def logits(self, q, k, bias, mask, q_pos, k_pos):
        """Scaled, biased, masked logits (B*K*G*t, s) of query rows q_pos and keys k_pos;
        q is (B*K, G*t, H), k (B*K, s, H); bias and mask (b|1, K|1, G|1, t|1, s|1)."""
        t = aval_of(q_pos).shape[0]
        dt = self.logits_dtype
        s = lax.dot_general(q.astype(dt), k.astype(dt), (((2,), (2,)), ((0,), (0,))))
        s = jnp.reshape(s, (-1, aval_of(k).shape[1])) * self.scale
        if bias is not None:
            s = (s + self.rows(bias, t)).astype(dt)
        keep = self._keep(mask, q_pos, k_pos)
        if keep is not None:
            s = jnp.where(keep, s, _large_negative(dt))
        return s

    def _keep(self, mask, q_pos, k_pos):
        t = aval_of(q_pos).shape[0]
        keep = None if mask is None else self.rows(mask, t)
        row_pos = self.rows(q_pos[None, None, None, :, None], t)       # (R, 1)
        kp = k_pos[None, :]

        def both(a, b):
            return b if a is None else jnp.logical_and(a, b)
        if self.is_causal:
            keep = both(keep, row_pos >= kp)
        if self.window is not None:
            left, right = self.window
            keep = both(keep, jnp.logical_and(row_pos <= kp + left, row_pos >= kp - right))
        if self.q_len is not None:
            ql = self.rows(self.q_len[:, None, None, None, None], t)
            keep = both(keep, row_pos < ql)
        if self.kv_len is not None:
            kl = self.rows(self.kv_len[:, None, None, None, None], t)
            keep = both(keep, kp < kl)
        return keep

    def finish(self, out, q_pos):
        """(B*K, G*t, H) rows as (B, t, K, G, H), zeroed past each query length as in JAX."""
        t = aval_of(q_pos).shape[0]
        out = jnp.reshape(out, (self.B, self.K, self.G, t, -1))
        out = jnp.transpose(out, (0, 3, 1, 2, 4))
        if self.q_len is None:
            return out
        live = (q_pos[None, :] < self.q_len[:, None]).astype(out.dtype)
        return out * live[:, :, None, None, None]

    def lse(self, lse_rows, t):
        return jnp.reshape(lse_rows, (self.B, self.K, self.G, t))


def _plain(p, q, k, v, bias, mask, q_pos, k_pos):
    """Attention of the rows q_pos over all keys: (B, t, K, G, H) and logsumexp (B, K, G, t)."""
    s = p.logits(q, k, bias, mask, q_pos, k_pos)
    m = lax.stop_gradient(jnp.max(s, axis=-1, keepdims=True))
    e = jnp.exp(s - m)
    total = jnp.sum(e, axis=-1, keepdims=True)
    probs = (e / total).astype(p.out_dtype)
    probs = jnp.reshape(probs, aval_of(q).shape[:2] + (aval_of(k).shape[1],))
    out = lax.dot_general(probs, v, (((2,), (1,)), ((0,), (0,))))
    t = aval_of(q_pos).shape[0]
    return p.finish(out, q_pos), p.lse((jnp.log(total) + m)[:, 0], t)


def _pad_axis(x, axis, new_size, value=0):
    """x padded with `value` to new_size along `axis`; a broadcast (size-1) axis stays."""
    size = aval_of(x).shape[axis]
    if size == 1 or size == new_size:
        return x
    widths = [(0, 0)] * aval_of(x).ndim
    widths[axis] = (0, new_size - size)
    return jnp.pad(x, widths, constant_values=value)


def _split_axis(x, axis, n_blocks):
    """x with `axis` cut into n_blocks equal blocks, the block index moved to the front."""
    shape = aval_of(x).shape
    new = shape[:axis] + (n_blocks, shape[axis] // n_blocks) + shape[axis + 1:]
    return jnp.moveaxis(jnp.reshape(x, new), axis, 0)


def _blockwise(xs, axes, n_blocks, size):
    """Split the entries of the dict `xs` that vary along their axis into `n_blocks` blocks
    (padded to `size`); the others (broadcast along it) are returned apart, used whole."""
    scanned, whole = {}, {}
    for name, x in xs.items():
        if x is None:
            continue
        ax, fill = axes[name]
        if aval_of(x).shape[ax] == 1:
            whole[name] = x
        else:
            scanned[name] = _split_axis(_pad_axis(x, ax, size, fill), ax, n_blocks)
    return scanned, whole


def _flash(p, q, kv_blocks, bias, mask, q_pos, S, k_block):
    """The same as `_plain` by an online softmax over key blocks (a `lax.scan`): a running
    maximum m, running sum l and accumulator rescaled by exp(m_old - m_new) at each block."""
    BK, M, H = aval_of(q).shape
    nk = -(-S // k_block)
    xs, whole = _blockwise({"bias": bias, "mask": mask},
                           {"bias": (4, 0), "mask": (4, False)}, nk, nk * k_block)
    xs.update(kv_blocks)
    acc_dtype = p.logits_dtype
    neg = np.asarray(-np.inf, acc_dtype)

    def step(carry, blk):
        m, l, acc = carry
        k_pos = blk["k_pos"]
        s = p.logits(q, blk["k"], blk.get("bias", whole.get("bias")),
                     blk.get("mask", whole.get("mask")), q_pos, k_pos)
        if nk * k_block != S:
            # Padding keys past S take no part at all (masked keys do, with JAX's value).
            s = jnp.where(k_pos[None, :] < S, s, neg)
        m_new = jnp.maximum(m, lax.stop_gradient(jnp.max(s, axis=-1)))
        e = jnp.exp(s - m_new[:, None])
        corr = jnp.exp(m - m_new)
        l = l * corr + jnp.sum(e, axis=-1)
        pv = lax.dot_general(jnp.reshape(e, (BK, M, k_block)), blk["v"].astype(acc_dtype),
                             (((2,), (1,)), ((0,), (0,))))
        return (m_new, l, acc * jnp.reshape(corr, (BK, M, 1)) + pv), None

    init = (jnp.full((BK * M,), neg, acc_dtype), jnp.zeros((BK * M,), acc_dtype),
            jnp.zeros((BK, M, H), acc_dtype))
    (m, l, acc), _ = lax.scan(step, init, xs)
    out = (acc / jnp.reshape(l, (BK, M, 1))).astype(p.out_dtype)
    t = aval_of(q_pos).shape[0]
    return p.finish(out, q_pos), p.lse(jnp.log(l) + m, t)


def _blocked(p, q, k, v, bias, mask, method, q_block, k_block):
    """`lax.map` over blocks of q_block query rows (padded at the end and cut off after);
    q is (B, K, G, T, H), k and v (B*K, S, H)."""
    B, K, G, T, H = aval_of(q).shape
    S = aval_of(k).shape[1]
    nq = -(-T // q_block)
    Tp = nq * q_block
    xs, whole = _blockwise({"q": q, "bias": bias, "mask": mask},
                           {"q": (3, 0), "bias": (3, 0), "mask": (3, False)}, nq, Tp)
    xs["start"] = jnp.arange(nq) * q_block
    if method == "flash":
        nk = -(-S // k_block)
        kv_blocks, _ = _blockwise({"k": k, "v": v}, {"k": (1, 0), "v": (1, 0)}, nk, nk * k_block)
        kv_blocks["k_pos"] = jnp.reshape(jnp.arange(nk * k_block), (nk, k_block))

    def one(blk):
        q_pos = blk["start"] + jnp.arange(q_block)
        qb = jnp.reshape(blk["q"], (B * K, G * q_block, H))
        bias_b, mask_b = blk.get("bias", whole.get("bias")), blk.get("mask", whole.get("mask"))
        if method == "flash":
            return _flash(p, qb, kv_blocks, bias_b, mask_b, q_pos, S, k_block)
        return _plain(p, qb, k, v, bias_b, mask_b, q_pos, jnp.arange(S))

    out, lse = lax.map(one, xs)
    out = jnp.reshape(jnp.moveaxis(out, 0, 1), (B, Tp, K, G, H))[:, :T]
    lse = jnp.reshape(jnp.moveaxis(lse, 0, 3), (B, K, G, Tp))[..., :T]
    return out, lse


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal=False, query_seq_lengths=None, key_value_seq_lengths=None,
                          local_window_size=None, implementation=None, return_residual=False):
    """softmax(Q K^T * scale + bias, masked) V per head, as `jax.nn.dot_product_attention`.

    query (B, T, N, H) or (T, N, H); key and value (B, S, K, H) or (S, K, H) of query's dtype
    with N a multiple of K; bias and mask (bool, True = attend) broadcastable to (B, N, T, S);
    scale defaults to 1 / sqrt(H); query/key_value_seq_lengths are int32 (B,) lengths;
    local_window_size (left, right) or an int for both. Returns query's shape, and with
    return_residual=True also the logsumexp of the logits, shaped like query without H.
    """
    if implementation not in (None, "xla"):
        if implementation == "cudnn":
            raise InvalidOptionError("dot_product_attention: implementation='cudnn' needs cuDNN, "
                                     "which jitcore does not use", hint="pass implementation=None")
        raise InvalidOptionError(f"dot_product_attention: unsupported implementation option "
                                 f"{implementation!r}; expected None, 'xla' or 'cudnn'")
    out_shape = aval_of(query).shape
    q, k, v = _ensure_4d(query), _ensure_4d(key), _ensure_4d(value)
    bias = None if bias is None else _ensure_4d(bias)
    mask = None if mask is None else _ensure_4d(mask)
    q_len = None if query_seq_lengths is None else asarray(query_seq_lengths)
    kv_len = None if key_value_seq_lengths is None else asarray(key_value_seq_lengths)
    if isinstance(local_window_size, (int, np.integer)):
        local_window_size = (int(local_window_size), int(local_window_size))
    elif local_window_size is not None:
        local_window_size = tuple(int(w) for w in local_window_size)

    B, S, K, H = aval_of(k).shape
    dtype = aval_of(k).dtype
    _check(v, (B, S, K, H), dtype, "value")
    _check(q, (B, -1, -1, H), dtype, "query")
    _check(mask, (-1,) * 4, np.dtype(bool), "mask")
    _check(bias, (-1,) * 4, None, "bias")
    _check(q_len, (B,), np.dtype(np.int32), "query_seq_lengths")
    _check(kv_len, (B,), np.dtype(np.int32), "key_value_seq_lengths")
    T, N = aval_of(q).shape[1:3]
    if N % K:
        raise ShapeError(f"dot_product_attention: the number of query heads must be a multiple "
                         f"of the key/value heads, got query {aval_of(q).str_short()} and key "
                         f"{aval_of(k).str_short()} ({N} vs {K})")
    if not dtypes.is_inexact(dtype):
        raise DtypeError(f"dot_product_attention: query, key and value must be floating point, "
                         f"got {aval_of(q).str_short()}")
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    logits_dtype = dtypes.promote_types(dtype, np.float32)
    G = N // K
    p = _Problem((B, K, G), scale, logits_dtype, dtype, is_causal, local_window_size, q_len,
                 kv_len)
    q = jnp.transpose(jnp.reshape(q, (B, T, K, G, H)), (0, 2, 3, 1, 4))     # (B, K, G, T, H)
    k = jnp.reshape(jnp.transpose(k, (0, 2, 1, 3)), (B * K, S, H))
    v = jnp.reshape(jnp.transpose(v, (0, 2, 1, 3)), (B * K, S, H))
    bias = _grouped(bias, B, N, K, T, S, "bias")
    mask = _grouped(mask, B, N, K, T, S, "mask")

    method = _method_for(B * N * T * S)
    if method == "plain":
        q = jnp.reshape(q, (B * K, G * T, H))
        out, lse = _plain(p, q, k, v, bias, mask, jnp.arange(T), jnp.arange(S))
    else:
        out, lse = _blocked(p, q, k, v, bias, mask, method, min(_Q_BLOCK, T), min(_K_BLOCK, S))
    out = jnp.reshape(out, out_shape)
    if not return_residual:
        return out
    lse = jnp.reshape(jnp.moveaxis(lse.astype(dtype), 3, 1), out_shape[:-1])
    return out, lax.stop_gradient(lse)


def _method_for(n_logits):
    return "plain" if n_logits <= _PLAIN_MAX_LOGITS else _DEFAULT
