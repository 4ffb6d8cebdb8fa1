"""Table of primitive applications for the transform tests: every non-call-like primitive in
`ops.core.PRIMITIVES`, with each params variant that takes its JVP/VJP/batching rule down a
different path.

A case builds its operands with `make(rng)`, so the vmap tests can draw a fresh example per
batch element and the gradient tests get inputs away from the points where the primitive is
not differentiable (positive for log, no ties for max/sort, no integer crossings for floor).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import ops  # noqa: F401  (registers every primitive family)
from ops.core import PRIMITIVES

F64, F32, I64, I32, U8, BOOL = (np.dtype(t) for t in
                                ("float64", "float32", "int64", "int32", "uint8", "bool"))


@dataclass
class Case:
    prim: str
    make: object                 # rng -> list of operands
    params: dict = field(default_factory=dict)
    label: str = ""
    grad_opts: dict = field(default_factory=dict)   # eps/tol for check_grads (float64)

    @property
    def id(self):
        name = f"{self.prim}-{self.label}" if self.label else self.prim
        return name.replace(" ", "")


# --- operand makers: rng -> ndarray ----------------------------------------------------------

def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def uniform(lo, hi, *shape):
    return lambda rng: rng.uniform(lo, hi, shape)


def away(*shape, lo=0.3):
    """|x| in [lo, lo + 1.5]: away from 0 (abs, sign, division)."""
    return lambda rng: rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, lo + 1.5, shape)


def frac(*shape):
    """An integer plus a fraction in [0.1, 0.4]: away from the jumps of floor/ceil/round/sign."""
    return lambda rng: rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape)


def distinct(*shape):
    """Values at least 0.25 apart: no ties anywhere (max/min/sort/argmax)."""
    n = int(np.prod(shape, dtype=np.int64))

    def make(rng):
        v = (rng.permutation(n) - n / 2) * 0.3 + rng.uniform(0, 0.05, n)
        return v.reshape(shape)
    return make


def ints(lo, hi, *shape, dtype=I64):
    return lambda rng: rng.integers(lo, hi, shape).astype(dtype)


def bools(*shape):
    return lambda rng: rng.random(shape) < 0.5


def const(value):
    return lambda rng: np.asarray(value)


def each(*makers):
    return lambda rng: [m(rng) for m in makers]


def split(maker, sizes):
    """One maker's values cut into several operands (values distinct across them)."""
    def make(rng):
        v = maker(rng)
        out, pos = [], 0
        for shape in sizes:
            n = int(np.prod(shape, dtype=np.int64))
            out.append(v.ravel()[pos:pos + n].reshape(shape))
            pos += n
        return out
    return make


def apart(*shape):
    """(x, y) with x != y everywhere (max/min/comparisons with a strict winner)."""
    def make(rng):
        x = rng.standard_normal(shape)
        return [x, x + rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 1.0, shape)]
    return make


def rem_operands(*shape):
    """(x, y) with x / y at least 0.2 from an integer: fmod is smooth there in both."""
    def make(rng):
        y = rng.choice([-1.0, 1.0], shape) * rng.uniform(1.0, 2.0, shape)
        q = rng.integers(-2, 3, shape) + rng.uniform(0.2, 0.8, shape)
        return [q * y, y]
    return make


def with_ties(*shape):
    """(x, y) with some equal entries: comparisons then see all three outcomes."""
    def make(rng):
        x = rng.integers(-2, 3, shape).astype(F64)
        return [x, np.where(rng.random(shape) < 0.4, x, rng.integers(-2, 3, shape))]
    return make


# --- elementwise -------------------------------------------------------------------------------

UNARY_DOMAINS = {
    "neg": normal, "sin": normal, "cos": normal, "tan": lambda *s: uniform(-1, 1, *s),
    "exp": normal, "exp2": normal, "expm1": normal, "atan": normal, "sinh": normal,
    "cosh": normal, "tanh": normal, "asinh": normal, "logistic": normal, "erf": normal,
    "cbrt": away, "abs": away, "sign": frac, "floor": frac, "ceil": frac, "round": frac,
    "log": lambda *s: uniform(0.5, 2, *s), "log1p": lambda *s: uniform(-0.5, 2, *s),
    "sqrt": lambda *s: uniform(0.5, 2, *s), "rsqrt": lambda *s: uniform(0.5, 2, *s),
    "asin": lambda *s: uniform(-0.8, 0.8, *s), "acos": lambda *s: uniform(-0.8, 0.8, *s),
    "atanh": lambda *s: uniform(-0.8, 0.8, *s), "acosh": lambda *s: uniform(1.2, 3, *s),
    "erf_inv": lambda *s: uniform(-0.8, 0.8, *s),
}


def elementwise_cases():
    cases = []
    for name, dom in UNARY_DOMAINS.items():
        cases.append(Case(name, each(dom(2, 3)), label="2x3"))
    for name in ("sin", "exp", "log"):
        cases.append(Case(name, each(UNARY_DOMAINS[name]()), label="0d"))
    cases.append(Case("round", each(frac(2, 3)), {"rounding_method": 1}, label="half_even"))
    cases += [
        Case("is_finite", each(const([[1.0, np.inf, -np.inf], [np.nan, 0.0, -2.5]])),
             label="special"),
        Case("is_finite", each(normal(4)), label="f64"),
        Case("not", each(bools(2, 3)), label="bool"),
        Case("not", each(ints(-50, 50, 2, 3, dtype=I32)), label="i32"),
    ]
    for name in ("add", "sub", "mul"):
        cases.append(Case(name, each(normal(2, 3), normal(2, 3)), label="2x3"))
    cases += [
        Case("add", each(normal(), normal()), label="0d"),
        Case("mul", each(ints(-5, 5, 2, 3), ints(-5, 5, 2, 3)), label="i64"),
        Case("div", each(normal(2, 3), away(2, 3)), label="2x3"),
        Case("div", each(ints(-9, 9, 4), ints(1, 4, 4)), label="i64"),
        Case("rem", rem_operands(2, 3), label="2x3"),
        Case("pow", each(uniform(0.5, 2, 2, 3), normal(2, 3)), label="2x3"),
        Case("max", apart(2, 3), label="2x3"),
        Case("min", apart(2, 3), label="2x3"),
        Case("max", each(ints(-5, 5, 4), ints(-5, 5, 4)), label="i64"),
        Case("atan2", each(away(2, 3), away(2, 3)), label="2x3"),
    ]
    for name in ("and", "or", "xor"):
        cases.append(Case(name, each(bools(2, 3), bools(2, 3)), label="bool"))
        cases.append(Case(name, each(ints(-99, 99, 2, 3), ints(-99, 99, 2, 3)), label="i64"))
    for name in ("shift_left", "shift_right_arithmetic", "shift_right_logical"):
        cases.append(Case(name, each(ints(-1000, 1000, 2, 3, dtype=I32),
                                     ints(-1, 34, 2, 3, dtype=I32)), label="i32"))
        cases.append(Case(name, each(ints(0, 255, 4, dtype=U8), ints(0, 9, 4, dtype=U8)),
                          label="u8"))
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        cases.append(Case(name, with_ties(2, 3), label="f64"))
        cases.append(Case(name, each(ints(-2, 2, 4), ints(-2, 2, 4)), label="i64"))
    for y in (0, 1, 2, 3, -2):
        cases.append(Case("integer_pow", each(away(2, 3)), {"y": y}, label=f"y{y}"))
    cases.append(Case("integer_pow", each(ints(-3, 3, 4)), {"y": 3}, label="i64"))
    cases += [
        Case("select", each(bools(2, 3), normal(2, 3), normal(2, 3)), label="2x3"),
        Case("select", each(bools(), normal(), normal()), label="0d"),
        Case("select", each(bools(4), ints(0, 9, 4), ints(0, 9, 4)), label="i64"),
        # Bounds 0.2 or more from the operand's values: no ties, so every element is
        # differentiable; scalar and full-shape bounds take different paths.
        Case("clamp", each(const(-0.5), frac(2, 3), const(0.7)), label="scalar_bounds"),
        Case("clamp", lambda rng: _clamp_arrays(rng, (2, 3)), label="array_bounds"),
        Case("clamp", lambda rng: [np.asarray(-0.3)] + _clamp_arrays(rng, (4,))[1:],
             label="mixed_bounds"),
        Case("convert_element_type", each(normal(2, 3)),
             {"new_dtype": F64, "weak_type": True}, label="to_f64_weak"),
        # float32 results: finite differences need a wider step (the map is linear).
        Case("convert_element_type", each(normal(2, 3)), {"new_dtype": F32},
             label="to_f32", grad_opts={"eps": 1e-2, "tol": 1e-4}),
        Case("convert_element_type", each(frac(2, 3)), {"new_dtype": I32}, label="to_i32"),
        Case("convert_element_type", each(ints(-9, 9, 4)), {"new_dtype": F64}, label="i_to_f"),
        Case("convert_element_type", each(bools(4)), {"new_dtype": F32}, label="b_to_f"),
        Case("bitcast_convert_type", each(normal(2, 3)), {"new_dtype": I64}, label="f64_i64"),
        Case("bitcast_convert_type", each(ints(0, 2 ** 20, 4, dtype=I32)), {"new_dtype": F32},
             label="i32_f32"),
        Case("iota", lambda rng: [], {"dtype": I64, "shape": (2, 3), "dimension": 1}, label="i64"),
        Case("iota", lambda rng: [], {"dtype": F32, "shape": (4,), "dimension": 0}, label="f32"),
    ]
    return cases


def _clamp_arrays(rng, shape):
    lo = rng.uniform(-1.0, -0.2, shape)
    hi = rng.uniform(0.2, 1.0, shape)
    x = rng.choice([-1.5, 0.0, 1.5], shape) + rng.uniform(-0.1, 0.1, shape)
    return [lo, x, hi]


# --- shape ---------------------------------------------------------------------------------


def shape_cases():
    c = []
    for shape, out, dims in (((3,), (2, 3), (1,)), ((2, 3), (2, 4, 3), (0, 2)),
                             ((3, 1), (3, 4), (0, 1)), ((), (2, 3), ())):
        c.append(Case("broadcast_in_dim", each(normal(*shape)),
                      {"shape": out, "broadcast_dimensions": dims}, label=f"{shape}->{out}"))
    for shape, new in (((2, 3), (3, 2)), ((2, 3, 4), (4, 1, 6)), ((2, 3), (6,)), ((), (1, 1))):
        c.append(Case("reshape", each(normal(*shape)), {"new_sizes": new},
                      label=f"{shape}->{new}"))
    for shape, perm in (((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (1, 0, 2))):
        c.append(Case("transpose", each(normal(*shape)), {"permutation": perm}, label=str(perm)))
    c += [Case("squeeze", each(normal(1, 3, 1, 2)), {"dimensions": (0, -2)}, label="0,-2"),
          Case("squeeze", each(normal(3, 1)), {"dimensions": (1,)}, label="1")]
    for shape, dims in (((2, 3, 4), (0, 2)), ((3,), (0,)), ((2, 3), ())):
        c.append(Case("rev", each(normal(*shape)), {"dimensions": dims}, label=str(dims)))
    c += [
        Case("slice", each(normal(5, 6)), {"start_indices": (1, 0), "limit_indices": (5, 6),
                                           "strides": (2, 3)}, label="strided"),
        Case("slice", each(normal(4, 3)), {"start_indices": (1, 1), "limit_indices": (3, 3),
                                           "strides": None}, label="unit"),
        Case("slice", each(normal(7)), {"start_indices": (1,), "limit_indices": (7,),
                                        "strides": (3,)}, label="1d_stride3"),
    ]
    # Start ranges (per axis, [lo, hi)): inside the operand, or past either end (clamped).
    for starts, sizes, dt, label in ((((0, 4), (0, 4)), (2, 3), I64, "inside"),
                                     (((-3, 9), (-4, 0)), (3, 2), I64, "clamped"),
                                     (((-2, 9), (0, 5)), (5, 2), I32, "full_axis_i32")):
        c.append(Case("dynamic_slice", each(normal(5, 6), *(ints(lo, hi, dtype=dt)
                                                             for lo, hi in starts)),
                      {"slice_sizes": sizes}, label=label))
    for starts, ushape, label in ((((0, 4), (0, 4)), (2, 3), "inside"),
                                  (((4, 12), (-5, 1)), (2, 3), "clamped"),
                                  (((-1, 2), (0, 5)), (5, 2), "full_axis")):
        c.append(Case("dynamic_update_slice",
                      each(normal(5, 6), normal(*ushape), *(ints(lo, hi) for lo, hi in starts)),
                      label=label))
    c += [
        Case("concatenate", each(normal(2, 3), normal(4, 3)), {"dimension": 0}, label="dim0"),
        Case("concatenate", each(normal(2, 1), normal(2, 0), normal(2, 2)), {"dimension": -1},
             label="dim-1_three"),
        Case("concatenate", each(normal(3), normal(2)), {"dimension": 0}, label="1d"),
    ]
    for shape, cfg, label in (((2, 3), ((1, 2, 0), (0, 1, 1)), "edges_interior"),
                              ((3, 4), ((-1, 1, 0), (2, -2, 1)), "negative"),
                              ((2, 3), ((0, 0, 2), (0, 0, 1)), "interior_only"),
                              ((5,), ((-2, -1, 1),), "crop_both")):
        c.append(Case("pad", each(normal(*shape), normal()), {"padding_config": cfg},
                      label=label))
    return c


# --- reductions, cumulative scans, dot_general ---------------------------------------------

REDUCE_AXES = ((0,), (1,), (2,), (0, 2), (0, 1, 2), (), (-1,))


def reduction_cases():
    c = []
    for name in ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min"):
        for axes in REDUCE_AXES:
            c.append(Case(name, each(distinct(2, 3, 4)), {"axes": axes}, label=str(axes)))
    zeros = np.array([[0.5, 0.0, -1.2, 0.7], [0.0, 1.3, 0.0, -0.8], [1.1, -0.6, 0.9, 1.4]])
    for axes in ((1,), (0, 1), (0,)):
        c.append(Case("reduce_prod", each(const(zeros)), {"axes": axes}, label=f"zeros{axes}"))
    for name in ("reduce_and", "reduce_or"):
        for axes in ((0,), (1,), (0, 1)):
            c.append(Case(name, each(bools(3, 4)), {"axes": axes}, label=str(axes)))
    c.append(Case("reduce_sum", each(ints(-9, 9, 3, 4)), {"axes": (1,)}, label="i64"))
    c.append(Case("reduce_max", each(ints(-9, 9, 3, 4)), {"axes": (0,)}, label="i64"))
    for name in ("argmax", "argmin"):
        for axis, idt in ((0, I64), (1, I32), (-1, I64)):
            c.append(Case(name, each(distinct(3, 4)), {"axis": axis, "index_dtype": idt},
                          label=f"axis{axis}-{idt}"))
        c.append(Case(name, each(bools(3, 4)), {"axis": 1, "index_dtype": I64}, label="bool"))
    scans = (((7,), 0, False), ((7,), 0, True), ((2, 4), 1, False), ((2, 4), -1, True),
             ((4, 3), 0, False), ((3, 2), 1, True), ((1, 3), 0, False), ((6,), 0, True))
    for name in ("cumsum", "cumprod", "cummax", "cummin"):
        for shape, axis, reverse in scans:
            c.append(Case(name, each(distinct(*shape)), {"axis": axis, "reverse": reverse},
                          label=f"{shape}-ax{axis}{'-rev' if reverse else ''}"))
    c.append(Case("cumprod", each(const([1.5, 0.0, -0.7, 0.0, 2.0])), {"axis": 0},
                  label="zeros"))
    c.append(Case("cumsum", each(ints(-9, 9, 2, 4)), {"axis": 1, "reverse": True}, label="i64"))
    return c


def _dn(lc, rc, lb=(), rb=()):
    return ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))


DOT_CASES = (
    ("matmul", (2, 3), (3, 4), _dn((1,), (0,))),
    ("lhs0_rhs1", (3, 2), (4, 3), _dn((0,), (1,))),
    ("batch0", (2, 3, 4), (2, 4, 5), _dn((2,), (1,), (0,), (0,))),
    ("batch_mid_last", (3, 2, 4), (4, 5, 2), _dn((2,), (0,), (1,), (2,))),
    ("two_contract_swapped", (2, 3, 4), (4, 3, 5), _dn((1, 2), (1, 0))),
    ("outer", (2,), (3,), _dn((), ())),
    ("vdot", (3,), (3,), _dn((0,), (0,))),
    ("matvec", (2, 3), (3,), _dn((1,), (0,))),
    ("negative_axes", (2, 3), (3, 4), _dn((-1,), (-2,))),
    ("batch_only", (2, 3), (2, 3), _dn((), (), (0, 1), (0, 1))),
)


def dot_cases():
    c = [Case("dot_general", each(normal(*ls), normal(*rs)), {"dimension_numbers": dn},
              label=label) for label, ls, rs, dn in DOT_CASES]
    c.append(Case("dot_general", each(normal(2, 3), normal(3, 4)),
                  {"dimension_numbers": _dn((1,), (0,)), "preferred_element_type": F64},
                  label="preferred_f64"))
    c.append(Case("dot_general", each(ints(-3, 3, 2, 3), ints(-3, 3, 3, 4)),
                  {"dimension_numbers": _dn((1,), (0,))}, label="i64"))
    return c


# --- indexing and sorting ------------------------------------------------------------------


def index_rows(batch, sizes, dup=False, oob=False, dtype=I64):
    """Random index rows of shape batch + (len(sizes),), column k in [0, sizes[k]); `dup`
    repeats the first row, `oob` puts the last row past the end (and, with 4 rows or more,
    the one before it at -1)."""
    def make(rng):
        cols = [rng.integers(0, n, batch) for n in sizes]
        if not cols:
            return np.zeros(tuple(batch) + (0,), dtype)
        idx = np.stack(cols, axis=-1)
        flat = idx.reshape(-1, len(sizes))
        if dup and len(flat) > 1:
            flat[1] = flat[0]
        if oob and sizes:
            flat[-1, 0] = sizes[0] + 2
            if len(flat) >= 4:
                flat[-2, -1] = -1
        return flat.reshape(idx.shape).astype(dtype)
    return make


def indexing_cases():
    c = [
        Case("gather", each(normal(4, 3), index_rows((2,), (4,))), {"axes": (0,)},
             label="axis0"),
        Case("gather", each(normal(4, 3), index_rows((5,), (3,), dup=True, dtype=I32)),
             {"axes": (1,)}, label="axis1_dups_i32"),
        Case("gather", each(normal(4, 3), index_rows((2, 2), (4, 3))), {"axes": (0, 1)},
             label="axes01"),
        Case("gather", each(normal(4, 3), index_rows((2,), ())), {"axes": ()}, label="no_axes"),
        Case("gather", each(normal(4, 3), index_rows((4,), (4,), oob=True)),
             {"axes": (0,), "mode": "clip"}, label="clip_oob"),
        Case("gather", each(normal(4, 3), index_rows((4,), (4,), oob=True)),
             {"axes": (0,), "mode": "fill", "fill_value": 0.5}, label="fill_oob"),
        Case("gather", each(normal(2, 3, 4), index_rows((3,), (4, 2))), {"axes": (2, 0)},
             label="3d_axes20"),
    ]
    layouts = (
        ("axis0_dups_oob", (4, 3), index_rows((4,), (4,), dup=True, oob=True), (0,), (4, 3)),
        ("axis1", (4, 3), index_rows((2,), (3,)), (1,), (2, 4)),
        ("axes01_dups", (4, 3), index_rows((3,), (4, 3), dup=True), (0, 1), (3,)),
        ("no_axes", (4, 3), index_rows((2,), ()), (), (2, 4, 3)),
    )
    for name in ("scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max"):
        for label, oshape, idx, axes, ushape in layouts:
            # Operand and updates values all distinct: scatter_min/max see no ties.
            vals = split(distinct(int(np.prod(oshape)) + int(np.prod(ushape))), [oshape, ushape])
            c.append(Case(name, lambda rng, v=vals, i=idx: _scatter_ops(v(rng), i(rng)),
                          {"axes": axes}, label=label))
    # Zeros among updates landing on one position: one (exactly one zero) and two (none left).
    zeros_u = np.array([[0.0, 1.2, -0.7], [0.8, 0.0, 0.0], [1.3, 0.0, 0.6], [0.9, 1.1, 0.0]])
    c.append(Case("scatter_mul", each(normal(4, 3), const(np.array([[1], [2], [1], [2]])),
                                      const(zeros_u)), {"axes": (0,)}, label="zero_updates"))
    c.append(Case("scatter_add", each(ints(-9, 9, 4, 3), index_rows((2,), (4,), dup=True),
                                      ints(-9, 9, 2, 3)), {"axes": (0,)}, label="i64"))
    c.append(Case("scatter", each(bools(4, 3), index_rows((2,), (4,)), bools(2, 3)),
                  {"axes": (0,)}, label="bool"))
    return c


def _scatter_ops(values, idx):
    operand, updates = values
    return [operand, idx, updates]


def sorting_cases():
    def keyed(rng, shape):
        # An int key with ties, then a float key breaking them, then a float payload.
        return [rng.integers(0, 2, shape), distinct(*shape)(rng), rng.standard_normal(shape)]

    return [
        Case("sort", each(distinct(5)), {"dimension": 0}, label="1d"),
        Case("sort", each(distinct(3, 4)), {"dimension": 0}, label="dim0"),
        Case("sort", each(distinct(3, 4)), {"dimension": 1, "is_stable": False},
             label="dim1_unstable"),
        Case("sort", each(distinct(3, 4)), {"dimension": -1}, label="dim-1"),
        Case("sort", each(distinct(2, 5), normal(2, 5)), {"dimension": 1, "num_keys": 1},
             label="key_payload"),
        Case("sort", lambda rng: keyed(rng, (3, 4)), {"dimension": 1, "num_keys": 2},
             label="two_keys"),
        Case("sort", lambda rng: keyed(rng, (4, 3)), {"dimension": 0, "num_keys": 2},
             label="two_keys_dim0"),
        Case("sort", each(distinct(4), const(np.arange(4))), {"dimension": 0},
             label="argsort"),
        Case("sort", each(ints(0, 4, 6), bools(6)), {"dimension": 0}, label="int_bool"),
        Case("stop_gradient", each(normal(2, 3)), label="2x3"),
        Case("optimization_barrier", each(normal(2, 3)), label="2x3"),
        Case("stop_gradient", each(ints(0, 4, 3)), label="i64"),
    ]


CASES = (elementwise_cases() + shape_cases() + reduction_cases() + dot_cases()
         + indexing_cases() + sorting_cases())

CALL_LIKE = sorted(n for n, p in PRIMITIVES.items() if getattr(p, "call_like", False))
# Families whose transform rules have their own table-driven tests (complex operands, matrix
# factorizations with their conventions for signs and degenerate values): the file says where.
TESTED_ELSEWHERE = {
    **dict.fromkeys(("real", "imag", "conj", "complex"), "tests/ops/test_rules_complex.py"),
    **dict.fromkeys(("cholesky", "lu", "triangular_solve", "qr", "eigh", "svd", "eig",
                     "schur"), "tests/linalg/"),
    "fft": "tests/fft/",
    "conv_general_dilated": "tests/conv/",
    **dict.fromkeys(("reduce_window_" + k for k in ("sum", "max", "min")), "tests/windows/"),
    **dict.fromkeys(("pure_callback", "host_callback"), "tests/test_callbacks.py"),
    **dict.fromkeys(("psum", "pmax", "pmin", "all_gather", "psum_scatter", "axis_index"),
                    "tests/test_collectives.py"),
}
NAMES = sorted(n for n in PRIMITIVES if n not in CALL_LIKE and n not in TESTED_ELSEWHERE)
# Derivative 0 by definition, while its values move with its input: finite differences
# cannot check it, so a dedicated test checks that every derivative is exactly zero.
ZERO_DERIVATIVE = {"stop_gradient"}


def differentiable(name):
    return getattr(PRIMITIVES[name], "differentiable", True)


def has_float_operand(operands):
    return any(np.asarray(x).dtype.kind == "f" for x in operands)
