"""Complex numbers: values (eager, interpreter, CPU) against NumPy/Python's cmath, edge values,
the transform rules (JVP by finite differences, VJP as the transpose under JAX's pairing
Re(a * b), vmap against a loop), and `grad`'s conventions (conjugate gradient of a real
function, holomorphic derivative, float0 for integer inputs)."""
from __future__ import annotations

import cmath

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import lax
from ops.errors import JitcoreError

RNG = np.random.default_rng(3)


def crandn(*shape, dtype=np.complex128):
    return (RNG.normal(size=shape) + 1j * RNG.normal(size=shape)).astype(dtype)


Z = crandn(3, 5)
W = crandn(3, 5)

# (name, function of two complex arrays, reference with Python's cmath per element or NumPy)
UNARY = {
    "exp": (jnp.exp, cmath.exp), "log": (jnp.log, cmath.log), "sqrt": (jnp.sqrt, cmath.sqrt),
    "sin": (jnp.sin, cmath.sin), "cos": (jnp.cos, cmath.cos), "tan": (jnp.tan, cmath.tan),
    "sinh": (jnp.sinh, cmath.sinh), "cosh": (jnp.cosh, cmath.cosh),
    "tanh": (jnp.tanh, cmath.tanh), "expm1": (jnp.expm1, lambda v: cmath.exp(v) - 1),
    "log1p": (jnp.log1p, lambda v: cmath.log(1 + v)), "abs": (jnp.abs, abs),
    "conj": (jnp.conj, lambda v: v.conjugate()), "real": (jnp.real, lambda v: v.real),
    "imag": (jnp.imag, lambda v: v.imag), "angle": (jnp.angle, cmath.phase),
    "square": (jnp.square, lambda v: v * v), "cube": (lambda z: z ** 3, lambda v: v ** 3),
    "inverse_square": (lambda z: z ** -2, lambda v: v ** -2),
    "reciprocal": (jnp.reciprocal, lambda v: 1 / v),
    "sign": (jnp.sign, lambda v: v / abs(v) if v else 0j),
}
BINARY = {
    "add": (jnp.add, lambda a, b: a + b), "sub": (jnp.subtract, lambda a, b: a - b),
    "mul": (jnp.multiply, lambda a, b: a * b), "div": (jnp.divide, lambda a, b: a / b),
    "pow": (jnp.power, lambda a, b: a ** b),
}


def _elementwise_ref(fn, *arrays):
    out = [fn(*(complex(a) for a in vals)) for vals in zip(*(a.ravel() for a in arrays))]
    return np.array(out).reshape(arrays[0].shape)


def _backends(f, *args):
    """Eager, interpreter and CPU results of `f(*args)`."""
    return {"eager": f(*[jnp.asarray(a) for a in args]),
            "interp": jax.jit(f, backend="interp")(*args), "cpu": jax.jit(f)(*args)}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_unary_values(name, dtype):
    f, ref = UNARY[name]
    z = Z.astype(dtype)
    want = _elementwise_ref(ref, z.astype(np.complex128))
    tol = 2e-5 if dtype == np.complex64 else 1e-12
    for where, got in _backends(f, z).items():
        got = np.asarray(got)
        kind = "f" if name in ("abs", "real", "imag", "angle") else "c"
        assert got.dtype.kind == kind and got.dtype.itemsize == np.dtype(dtype).itemsize // (
            2 if kind == "f" else 1), (where, got.dtype)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=where)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values(name):
    f, ref = BINARY[name]
    want = _elementwise_ref(ref, Z, W)
    for where, got in _backends(f, Z, W).items():
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12,
                                   err_msg=where)


def test_promotion_and_python_complex_scalars():
    x32 = jnp.ones(3, jnp.float32)
    assert (x32 * 1j).dtype == np.complex64 and not (x32 * 1j).weak_type
    assert (jnp.ones(3, jnp.int32) * 1j).dtype == np.complex128
    assert (jnp.ones(3, jnp.int32) * 1j).weak_type          # JAX: int array + weak complex
    assert (jnp.ones(3) + jnp.ones(3, jnp.complex64)).dtype == np.complex128
    assert jnp.asarray(2.0 + 1j).weak_type
    z = jax.jit(lambda x: x * 1j + 2)(np.float32([1, 2]))
    assert z.dtype == np.complex64
    np.testing.assert_array_equal(np.asarray(z), np.float32([1, 2]) * 1j + 2)


def test_methods_and_predicates():
    z = jnp.asarray(Z)
    np.testing.assert_array_equal(np.asarray(z.real), Z.real)
    np.testing.assert_array_equal(np.asarray(z.imag), Z.imag)
    np.testing.assert_array_equal(np.asarray(z.conj()), Z.conj())
    np.testing.assert_array_equal(np.asarray(z.conjugate()), Z.conj())
    assert jnp.iscomplexobj(z) and not jnp.iscomplexobj(jnp.ones(2))
    x = jnp.asarray([1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(x.imag), [0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(jnp.iscomplex(jnp.asarray([1 + 0j, 1j]))),
                                  [False, True])
    np.testing.assert_array_equal(np.asarray(jnp.isreal(jnp.asarray([1 + 0j, 1j]))),
                                  [True, False])
    np.testing.assert_allclose(np.asarray(jnp.angle(jnp.asarray([1 + 1j, -1]), deg=True)),
                               [45.0, 180.0])
    np.testing.assert_array_equal(np.asarray(lax.complex(np.float32([1, 2]),
                                                         np.float32([3, 4]))),
                                  np.complex64([1 + 3j, 2 + 4j]))


def test_reductions_and_products():
    def f(z, w):
        return (z.sum(0), z.prod(1), jnp.mean(z), jnp.var(z), z @ w.T, jnp.vdot(z, w),
                jnp.prod(z), jnp.cumsum(z, 1), jnp.linalg.norm(z))
    want = (Z.sum(0), Z.prod(1), Z.mean(), Z.var(), Z @ W.T, np.vdot(Z, W), Z.prod(),
            np.cumsum(Z, 1), np.linalg.norm(Z))
    for where, got in _backends(f, Z, W).items():
        for g, w in zip(got, want):
            assert np.asarray(g).dtype == np.asarray(w).dtype, where
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-12, atol=1e-12,
                                       err_msg=where)


def test_comparisons_are_lexicographic_like_numpy():
    a = np.array([1 + 1j, 1 + 2j, 2 + 0j, 1 + 1j, np.nan + 0j])
    b = np.array([1 + 2j, 1 + 1j, 1 + 5j, 1 + 1j, 0j])
    for op in ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
               "maximum", "minimum"):
        f = getattr(jnp, op)
        want = getattr(np, op)(a[:4], b[:4])
        for where, got in _backends(f, a[:4], b[:4]).items():
            np.testing.assert_array_equal(np.asarray(got), want, err_msg=f"{op} {where}")
    np.testing.assert_array_equal(np.asarray(jax.jit(jnp.isnan)(a)), np.isnan(a))
    np.testing.assert_array_equal(np.asarray(jax.jit(jnp.isfinite)(a)), np.isfinite(a))


def test_edge_values_match_numpy():
    big = 1e300
    # (Subnormal parts are left out: the compiled hypot scales by the larger part, which
    # keeps only the subnormal's own few bits.)
    z = np.array([0j, -0.0 + 0j, 1e-300 + 1e-300j, big + big * 1j, -big + 1j, 800 + 0j,
                  800 + 1j, 1j * 800, -800j, np.inf + 0j, -np.inf + 0j, 3 + 4j, -3 - 4j,
                  1e-8 + 1e-8j])
    fns = {"exp": (jnp.exp, np.exp), "log": (jnp.log, np.log), "abs": (jnp.abs, np.abs),
           "sqrt": (jnp.sqrt, np.sqrt), "tanh": (jnp.tanh, np.tanh), "tan": (jnp.tan, np.tan),
           "div": (lambda v: v / (v + 1e300j), lambda v: v / (v + 1e300j)),
           "expm1": (jnp.expm1, np.expm1), "log1p": (jnp.log1p, np.log1p)}
    for name, (f, ref) in fns.items():
        with np.errstate(all="ignore"):
            want = ref(z)
        for where, got in _backends(f, z).items():
            got = np.asarray(got)
            finite = np.isfinite(want)
            # NumPy's log1p is log(1 + z), which loses digits near 0 (1e-8 + 1e-8j has a
            # relative error of 1e-8 there); ours keeps them.
            rtol = 1e-7 if name == "log1p" else 1e-9
            np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=1e-300,
                                       err_msg=f"{name} {where}")
            # Where NumPy is not finite, the same parts are inf (nan may differ in sign).
            for part in (np.real, np.imag):
                np.testing.assert_array_equal(np.isinf(part(got[~finite])),
                                              np.isinf(part(want[~finite])),
                                              err_msg=f"{name} {where}")


# --- transforms -----------------------------------------------------------------------------

HOLOMORPHIC = {k: UNARY[k][0] for k in ("exp", "log", "sqrt", "sin", "cos", "tan", "sinh",
                                         "cosh", "tanh", "expm1", "log1p", "square", "cube",
                                         "inverse_square", "reciprocal")}
# sign is piecewise constant for JAX (a zero derivative, complex inputs too): see below.
NONHOLOMORPHIC = {k: UNARY[k][0] for k in ("abs", "conj", "real", "imag", "angle")}
ALL_UNARY = {**HOLOMORPHIC, **NONHOLOMORPHIC,
             "mul_w": lambda z: z * jnp.asarray(W[0]), "div_w": lambda z: jnp.asarray(W[0]) / z,
             "pow_w": lambda z: z ** jnp.asarray(W[0]), "prod": lambda z: jnp.prod(z),
             "complex_of_parts": lambda z: lax.complex(z.imag, z.real * 2),
             "dot": lambda z: z @ jnp.asarray(W).T}


def _fd(f, z, t, eps=1e-6):
    return (np.asarray(f(z + eps * t)) - np.asarray(f(z - eps * t))) / (2 * eps)


@pytest.mark.parametrize("name", sorted(ALL_UNARY))
def test_jvp_matches_finite_differences(name):
    f = ALL_UNARY[name]
    z, t = Z[0], crandn(5)
    _, tangent = jax.jvp(f, (z,), (t,))
    np.testing.assert_allclose(np.asarray(tangent), _fd(f, z, t), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ALL_UNARY))
def test_vjp_is_the_transpose_of_jvp(name):
    """Re(<ct, J t>) == Re(<J^T ct, t>), the pairing without conjugation that makes JAX's
    complex gradients."""
    f = ALL_UNARY[name]
    z, t = Z[0], crandn(5)
    out, tangent = jax.jvp(f, (z,), (t,))
    out = np.asarray(out)
    ct = crandn(*out.shape) if out.dtype.kind == "c" else RNG.normal(size=out.shape)
    _, pullback = jax.vjp(f, z)
    (ct_z,) = pullback(ct.astype(out.dtype))
    lhs = np.real(np.sum(ct * np.asarray(tangent)))
    rhs = np.real(np.sum(np.asarray(ct_z) * t))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ALL_UNARY))
def test_vmap_matches_a_loop(name):
    f = ALL_UNARY[name]
    got = np.asarray(jax.vmap(f)(Z))
    want = np.stack([np.asarray(f(jnp.asarray(z))) for z in Z])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(f))(Z)), want, rtol=1e-12,
                               atol=1e-12)


def test_sign_has_a_zero_derivative_as_in_jax():
    _, t = jax.jvp(jnp.sign, (jnp.asarray(Z[0]),), (jnp.asarray(W[0]),))
    np.testing.assert_array_equal(np.asarray(t), np.zeros(5, np.complex128))


def test_grad_of_a_real_function_is_the_conjugate_gradient():
    """JAX's convention: grad f(x + iy) = df/dx - i df/dy for real-valued f."""
    def f(z):
        return jnp.sum(jnp.abs(jnp.sin(z) * z.conj()) ** 2 + jnp.angle(z) + z.real * z.imag)
    z = Z[0]
    eps = 1e-6
    want = np.array([
        (float(f(z + eps * e)) - float(f(z - eps * e))) / (2 * eps)
        - 1j * (float(f(z + 1j * eps * e)) - float(f(z - 1j * eps * e))) / (2 * eps)
        for e in np.eye(5)])
    for g in (jax.grad(f)(z), jax.jit(jax.grad(f))(z)):
        assert np.asarray(g).dtype == np.complex128
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6, atol=1e-8)


def test_grad_holomorphic_is_the_complex_derivative():
    z = jnp.asarray(0.3 + 0.7j)
    g = jax.grad(lambda v: jnp.sin(v) * jnp.exp(v), holomorphic=True)(z)
    v = complex(z)
    np.testing.assert_allclose(complex(g), cmath.cos(v) * cmath.exp(v) + cmath.sin(v) *
                               cmath.exp(v), rtol=1e-12)
    with pytest.raises(JitcoreError, match="holomorphic"):
        jax.grad(lambda v: v * v)(z)                 # a complex output needs holomorphic=True
    with pytest.raises(JitcoreError, match="complex"):
        jax.grad(lambda v: v * v, holomorphic=True)(1.0)


def test_grad_allow_int_gives_float0():
    gx, gi = jax.grad(lambda x, i: x * i, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert float(gx) == 3.0
    assert gi.dtype == jax.dtypes.float0 and gi.shape == ()
    with pytest.raises(JitcoreError, match="allow_int"):
        jax.grad(lambda x, i: x * i, argnums=(0, 1))(2.0, 3)


def test_ir_text_of_a_complex_program_round_trips():
    from xla_like.parser import parse_module
    from xla_like.ir_compare import assert_modules_equal
    f = jax.jit(lambda z: jnp.exp(z * (1 - 2j)) + jnp.asarray([1j, np.nan + 1j, -0.0 - 0j]))
    text = f.lower(Z[0, :3]).as_text()
    assert "c128[3]" in text and "1.0-2.0j" in text
    m = f.lower(Z[0, :3]).compiler_ir() if hasattr(f.lower(Z[0, :3]), "compiler_ir") else None
    parsed = parse_module(text)
    if m is not None:
        assert_modules_equal(m, parsed)
