"""jitcore.nn.dot_product_attention against a NumPy float64 reference.

The reference follows JAX 0.10.2's documented behaviour, checked against JAX itself (jaxcmp)
on these cases: masked logits take -0.7 * float32 max (so a row with every key masked averages
all values), rows past query_seq_lengths are zero, local_window_size=(l, r) lets query i see
keys i - l .. i + r, and the residual is the logsumexp of the masked logits shaped (B, T, N).
JAX agreed with this reference to 2e-7 (its softmax runs in float32 even for float64 inputs;
jitcore keeps float64 there). Each case runs through all three implementations (single shot,
query blocks, online softmax over key blocks) with small blocks that do not divide T or S.
"""
import numpy as np
import pytest

import jitcore as jc
from jitcore.errors import DtypeError, InvalidOptionError, ShapeError
from jitcore.nn import attention as attention_impl
from tests.helpers import check_grads, rng_for

B, T, S, H = 2, 13, 11, 4
NEG = -0.7 * float(np.finfo(np.float32).max)


def reference(q, k, v, bias=None, mask=None, causal=False, q_len=None, kv_len=None,
              window=None, scale=None):
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    N, K = q.shape[2], k.shape[2]
    k, v = np.repeat(k, N // K, axis=2), np.repeat(v, N // K, axis=2)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        s = s + bias
    t_, s_ = np.arange(q.shape[1])[:, None], np.arange(k.shape[1])[None, :]
    keep = np.ones(s.shape, bool)
    if mask is not None:
        keep &= mask
    if causal:
        keep &= t_ >= s_
    if window is not None:
        keep &= (t_ <= s_ + window[0]) & (t_ >= s_ - window[1])
    if q_len is not None:
        keep &= (t_ < q_len[:, None, None, None])
    if kv_len is not None:
        keep &= (s_ < kv_len[:, None, None, None])
    s = np.where(keep, s, NEG)
    mx = s.max(-1, keepdims=True)
    e = np.exp(s - mx)
    out = np.einsum("bnts,bsnh->btnh", e / e.sum(-1, keepdims=True), v)
    if q_len is not None:
        out = out * (np.arange(q.shape[1])[None, :] < q_len[:, None])[:, :, None, None]
    lse = (np.log(e.sum(-1)) + mx[..., 0]).transpose(0, 2, 1)
    return out, lse


@pytest.fixture(params=["plain", "query_blocks", "flash"])
def method(request, monkeypatch):
    monkeypatch.setattr(attention_impl, "_method_for", lambda n: request.param)
    monkeypatch.setattr(attention_impl, "_Q_BLOCK", 5)
    monkeypatch.setattr(attention_impl, "_K_BLOCK", 4)
    return request.param


def inputs(name, N=4, K=2, dtype=np.float64):
    rng = rng_for(name)
    q = rng.standard_normal((B, T, N, H)).astype(dtype)
    k = rng.standard_normal((B, S, K, H)).astype(dtype)
    v = rng.standard_normal((B, S, K, H)).astype(dtype)
    return rng, q, k, v


CASES = {
    "mha": dict(N=4, K=4),
    "gqa": dict(N=4, K=2),
    "mqa": dict(N=3, K=1),
    "bias_full": dict(bias=(B, 4, T, S)),
    "bias_broadcast": dict(bias=(1, 1, T, S)),
    "bias_per_key": dict(bias=(B, 1, 1, S)),
    "mask_heads": dict(mask=(1, 4, T, S)),
    "mask_batch": dict(mask=(B, 1, T, S)),
    "causal": dict(causal=True),
    "lengths": dict(q_len=[9, 13], kv_len=[11, 3]),
    "window_int": dict(window=2),
    "window_pair": dict(window=(3, 1)),
    "everything": dict(bias=(B, 4, T, S), mask=(B, 1, T, S), causal=True, q_len=[13, 7],
                       kv_len=[6, 11], window=(4, 2)),
}


def build(name, case):
    case = dict(case)
    N, K = case.pop("N", 4), case.pop("K", 2)
    rng, q, k, v = inputs(name, N, K)
    kw, ref = {}, {}
    if "bias" in case:
        kw["bias"] = ref["bias"] = rng.standard_normal(case["bias"])
    if "mask" in case:
        kw["mask"] = ref["mask"] = rng.random(case["mask"]) > 0.3
    if case.get("causal"):
        kw["is_causal"] = ref["causal"] = True
    if "q_len" in case:
        kw["query_seq_lengths"] = ref["q_len"] = np.array(case["q_len"], np.int32)
        kw["key_value_seq_lengths"] = ref["kv_len"] = np.array(case["kv_len"], np.int32)
    if "window" in case:
        w = case["window"]
        kw["local_window_size"] = w
        ref["window"] = (w, w) if isinstance(w, int) else w
    return (q, k, v), kw, ref


@pytest.mark.parametrize("name", list(CASES))
def test_against_reference(method, name):
    (q, k, v), kw, ref = build(name, CASES[name])
    out, lse = jc.nn.dot_product_attention(q, k, v, return_residual=True, **kw)
    want, want_lse = reference(q, k, v, **ref)
    assert out.dtype == np.float64 and out.shape == q.shape and lse.shape == q.shape[:-1]
    np.testing.assert_allclose(np.asarray(out), want, atol=1e-12, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(lse), want_lse, rtol=1e-12)


def test_jit_matches_eager_and_scale(method):
    (q, k, v), kw, ref = build("everything", CASES["everything"])
    f = jc.jit(lambda q, k, v: jc.nn.dot_product_attention(q, k, v, scale=0.3, **kw))
    want, _ = reference(q, k, v, scale=0.3, **ref)
    np.testing.assert_allclose(np.asarray(f(q, k, v)), want, atol=1e-12)
    np.testing.assert_allclose(np.asarray(f(q, k, v)),
                               np.asarray(jc.nn.dot_product_attention(q, k, v, scale=0.3, **kw)),
                               atol=1e-13)


def test_fully_masked_rows_average_values(method):
    # JAX's finite masked value makes such a row a uniform average (checked with JAX).
    _, q, k, v = inputs("masked", 4, 4)
    mask = np.ones((B, 1, T, S), bool)
    mask[:, :, 2] = False
    out = np.asarray(jc.nn.dot_product_attention(q, k, v, mask=mask))
    np.testing.assert_allclose(out[:, 2], v.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(out, reference(q, k, v, mask=mask)[0], atol=1e-12)


def test_three_dimensional_inputs(method):
    _, q, k, v = inputs("3d")
    out = jc.nn.dot_product_attention(q[0], k[0], v[0], is_causal=True)
    assert out.shape == q[0].shape
    np.testing.assert_allclose(np.asarray(out), reference(q[:1], k[:1], v[:1], causal=True)[0][0],
                               atol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float16, 2e-2)])
def test_low_precision(method, dtype, tol):
    (q, k, v), kw, ref = build("lowp", dict(bias=(1, 4, T, S), causal=True))
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    out = jc.nn.dot_product_attention(q, k, v, **kw)
    assert out.dtype == dtype
    np.testing.assert_allclose(np.asarray(out, np.float64), reference(q, k, v, **ref)[0],
                               atol=tol)


def test_gradients(method):
    (q, k, v), kw, _ = build("grad", dict(bias=(1, 4, T, S), mask=(B, 1, T, S), causal=True,
                                          q_len=[13, 10], kv_len=[11, 8]))
    bias = kw.pop("bias")
    check_grads(lambda q, k, v, b: jc.nn.dot_product_attention(q, k, v, b, **kw),
                (q, k, v, bias), order=1)


def test_vmap_matches_loop(method):
    rng = rng_for("vmap")
    q = rng.standard_normal((3, B, T, 4, H))
    k = rng.standard_normal((3, B, S, 2, H))
    v = rng.standard_normal((3, B, S, 2, H))
    bias = rng.standard_normal((3, 1, 4, T, S))
    f = lambda q, k, v, b: jc.nn.dot_product_attention(q, k, v, b, is_causal=True)  # noqa: E731
    got = np.asarray(jc.vmap(f)(q, k, v, bias))
    for i in range(3):
        np.testing.assert_allclose(got[i], reference(q[i], k[i], v[i], bias[i], causal=True)[0],
                                   atol=1e-12)


def test_default_method_by_size():
    assert attention_impl._method_for(4 * 8 * 1024 * 1024) == "plain"
    assert attention_impl._method_for(4 * 8 * 2048 * 2048) == attention_impl._DEFAULT


def test_errors():
    _, q, k, v = inputs("errors", 4, 2)
    f = jc.nn.dot_product_attention
    with pytest.raises(ShapeError, match="multiple"):
        f(q[:, :, :3], k, v)
    with pytest.raises(DtypeError, match="query"):
        f(q.astype(np.float32), k, v)
    with pytest.raises(ShapeError, match="value"):
        f(q, k, v[:, :5])
    with pytest.raises(DtypeError, match="mask"):
        f(q, k, v, mask=np.ones((1, 1, T, S), np.int32))
    with pytest.raises(DtypeError, match="query_seq_lengths"):
        f(q, k, v, query_seq_lengths=np.array([1, 2]))
    with pytest.raises(ShapeError, match="bias"):
        f(q, k, v, bias=np.ones((1, 2, T, S)))
    with pytest.raises(InvalidOptionError, match="implementation"):
        f(q, k, v, implementation="fast")
