"""Looking at programs without running them, and the contexts that change how they run.

- `make_jaxpr(f)(*args)`: the traced program, as JAX's `ClosedJaxpr` (`.jaxpr.eqns`,
  `.in_avals`, `.out_avals`, `.consts`); `str()` of it is jitcore's IR text (`make_hlo`'s).
- `eval_shape(f, *args)`: the shapes and dtypes of `f`'s outputs, as `ShapeDtypeStruct`s,
  without computing anything; arguments may be `ShapeDtypeStruct`s.
- `block_until_ready(tree)`, `disable_jit()`, `ensure_compile_time_eval()`,
  `named_scope(name)`, `named_call(f, name=)`.

The jaxpr view is read off the Module: one equation per primitive instruction of a
computation; parameters are `invars`, array constants `constvars` (their values `consts`),
scalar constants `Literal`s, and a multi-result primitive's `get_tuple_element`s its `outvars`.
"""
from __future__ import annotations

import contextlib
import functools
import threading

import numpy as np

from ops.dtypes import kind as _kind
from ops import core, dtypes
from ops.core import ShapedArray, Tracer
from ops.errors import InvalidArgumentError
from xla_like import ir
from xla_like.builder import BuilderTrace

from . import config, tree_util
from .array import Array
from .cache_key import LEAF_SIG, aval_from_sig, sig_fallback
from .tracing import leaf_names, trace_to_module


class ShapeDtypeStruct:
    """An array's shape and dtype, standing for an argument (`eval_shape`, `make_jaxpr`) or
    describing a result (`eval_shape`)."""

    __slots__ = ("shape", "dtype", "weak_type", "sharding")

    def __init__(self, shape, dtype, *, weak_type=False, sharding=None):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtypes.canonicalize(np.dtype(dtype), "ShapeDtypeStruct")
        self.weak_type = bool(weak_type)
        self.sharding = sharding

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __eq__(self, other):
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"

    @classmethod
    def _of(cls, aval):
        return cls(aval.shape, aval.dtype, weak_type=aval.weak_type)


# `jit(f).lower(ShapeDtypeStruct(...))` lowers for that shape and dtype, as in JAX: jit reads
# an argument leaf's signature through LEAF_SIG, which accepts one only while `lower` runs
# (`abstract_arguments`), since a call has no values to run with.
_lowering = threading.local()


def _sig_shape_dtype(x):
    if not getattr(_lowering, "on", False):
        raise InvalidArgumentError(
            f"{x!r} is not a valid argument of a jitted call: it has a shape and a dtype but "
            "no values",
            hint="pass an array; a ShapeDtypeStruct stands for an argument in "
                 "jit(f).lower(...), eval_shape and make_jaxpr")
    return (x.shape, x.dtype, x.weak_type), None


LEAF_SIG[ShapeDtypeStruct] = _sig_shape_dtype


@contextlib.contextmanager
def abstract_arguments():
    """Inside the block, jit's signatures accept `ShapeDtypeStruct` leaves (for `lower`)."""
    before = getattr(_lowering, "on", False)
    _lowering.on = True
    try:
        yield
    finally:
        _lowering.on = before


def _abstract(x, fn_name) -> ShapedArray:
    """The abstract value tracing uses for an argument leaf."""
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    if isinstance(x, Tracer):
        return x.aval
    f = LEAF_SIG.get(type(x))
    if f is None:
        if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
            return ShapedArray(tuple(x.shape), dtypes.canonicalize(np.dtype(x.dtype), fn_name))
        f = sig_fallback(x, fn_name)
    return aval_from_sig(f(x)[0])


def _name_of(fun):
    name = getattr(fun, "__name__", None) or type(fun).__name__
    return name.replace("<", "").replace(">", "") or "fn"


def _trace(fun, args, kwargs, static_argnums=()):
    """(module, out_tree, out_avals, in_avals) of `fun` traced at `args` (the positions in
    `static_argnums` passed as they are)."""
    name = _name_of(fun)
    n = len(args)
    static = {i % n if n else i for i in static_argnums}
    dyn = tuple(a for i, a in enumerate(args) if i not in static)

    def traced(*dargs, **dkwargs):
        it = iter(dargs)
        full = [args[i] if i in static else next(it) for i in range(n)]
        return fun(*full, **dkwargs)

    leaves, in_tree = tree_util.tree_flatten((dyn, kwargs))
    in_avals = [_abstract(x, name) for x in leaves]
    try:
        import inspect
        params = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        params = []
    names = leaf_names(dyn, kwargs, [p for i, p in enumerate(params) if i not in static])
    module, out_tree, out_avals = trace_to_module(traced, in_avals, in_tree, name, names)
    return module, out_tree, out_avals, in_avals


# --- the jaxpr view of a Module ------------------------------------------------------------

class Var:
    """A value of a jaxpr: an instruction's result, named as in the IR text (`%3`)."""

    __slots__ = ("count", "aval")

    def __init__(self, count, aval):
        self.count = count
        self.aval = aval

    def __repr__(self):
        return f"%{self.count}"


class DropVar(Var):
    """An output of a multi-result primitive that nothing reads."""

    def __repr__(self):
        return "_"


class Literal:
    """A scalar constant operand."""

    __slots__ = ("val", "aval")

    def __init__(self, val, aval):
        self.val = val
        self.aval = aval

    def __repr__(self):
        return repr(self.val.item())


class _Opcode:
    """The `primitive` of an equation whose opcode has no registered primitive."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


class JaxprEqn:
    """One primitive application: `outvars = primitive[params](*invars)`. A primitive that runs
    sub-computations (`cond`, `while`, `scan`...) has them as `params["jaxprs"]`."""

    __slots__ = ("primitive", "params", "invars", "outvars", "location")

    def __init__(self, primitive, params, invars, outvars, location):
        self.primitive = primitive
        self.params = params
        self.invars = invars
        self.outvars = outvars
        self.location = location

    def __repr__(self):
        outs = " ".join(map(repr, self.outvars))
        return f"{outs} = {self.primitive.name} {' '.join(map(repr, self.invars))}"


def _aval(shape):
    return ShapedArray(tuple(shape.dims), shape.dtype)


class Jaxpr:
    """One computation as equations: `constvars`, `invars`, `eqns`, `outvars`."""

    def __init__(self, comp: ir.Computation):
        self.computation = comp
        var = {}        # instruction id -> Var or Literal
        consts = []
        self.constvars, self.eqns = [], []
        for p in comp.parameters:
            var[p.id] = Var(p.id, _aval(p.shape))
        self.invars = [var[p.id] for p in comp.parameters]
        # Each multi-result primitive's outputs are its get_tuple_elements.
        elements = {}
        for instr in comp.instructions:
            if instr.opcode == ir.GET_TUPLE_ELEMENT:
                elements.setdefault(instr.operands[0].id, {})[instr.attrs["index"]] = instr
        for instr in comp.instructions:
            op = instr.opcode
            if op == ir.CONSTANT:
                value = instr.attrs["value"]
                if np.ndim(value) == 0:
                    var[instr.id] = Literal(np.asarray(value), _aval(instr.shape))
                else:
                    var[instr.id] = v = Var(instr.id, _aval(instr.shape))
                    self.constvars.append(v)
                    consts.append(Array(value))
                continue
            if op in ir.STRUCTURAL:
                continue
            if isinstance(instr.shape, tuple):
                mine = elements.get(instr.id, {})
                outvars = []
                for k, s in enumerate(instr.shape):
                    g = mine.get(k)
                    outvars.append(DropVar(-1, _aval(s)) if g is None else Var(g.id, _aval(s)))
                    if g is not None:
                        var[g.id] = outvars[-1]
            else:
                outvars = [Var(instr.id, _aval(instr.shape))]
                var[instr.id] = outvars[0]
            params = dict(instr.attrs)
            if instr.called:
                params["jaxprs"] = tuple(ClosedJaxpr(Jaxpr(c)) for c in instr.called)
            prim = core.PRIMITIVES.get(op) or _Opcode(op)
            self.eqns.append(JaxprEqn(prim, params, [var[o.id] for o in instr.operands],
                                      outvars, instr.location))
        root = comp.root
        if root.opcode == ir.TUPLE:
            self.outvars = [var[o.id] for o in root.operands]
        elif isinstance(root.shape, tuple):
            self.outvars = list(self.eqns[-1].outvars)
        else:
            self.outvars = [var[root.id]]
        self._consts = consts

    def __str__(self):
        from xla_like.printer import module_to_text
        m = ir.Module(self.computation.name)
        m.set_entry(self.computation)
        return module_to_text(m)


class ClosedJaxpr:
    """A jaxpr with the values of its `constvars` (`consts`), as `make_jaxpr` returns it.
    `str()` is the IR text of the traced Module (`module`)."""

    def __init__(self, jaxpr: Jaxpr, module: ir.Module | None = None):
        self.jaxpr = jaxpr
        self.consts = jaxpr._consts
        self.module = module

    in_avals = property(lambda self: [v.aval for v in self.jaxpr.invars])
    out_avals = property(lambda self: [v.aval for v in self.jaxpr.outvars])
    eqns = property(lambda self: self.jaxpr.eqns)
    def __str__(self):
        return self.module.as_text() if self.module is not None else str(self.jaxpr)

    def __repr__(self):
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def make_jaxpr(fun, static_argnums=(), return_shape=False):
    """`make_jaxpr(f)(*args, **kwargs)`: `f` traced at the arguments' shapes and dtypes (or
    `ShapeDtypeStruct`s), as a `ClosedJaxpr`; with `return_shape=True`, also the outputs'
    `ShapeDtypeStruct`s in `f`'s output structure."""
    if not callable(fun):
        raise TypeError(f"make_jaxpr: expected a function, got {type(fun).__name__}")
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else \
        tuple(static_argnums)

    @functools.wraps(fun, updated=())
    def jaxpr_maker(*args, **kwargs):
        module, out_tree, out_avals, in_avals = _trace(fun, args, kwargs, static_argnums)
        jaxpr = Jaxpr(module.entry)
        # The traced avals keep the weak type, which the IR's shapes do not record.
        for v, a in zip(jaxpr.invars + jaxpr.outvars, list(in_avals) + list(out_avals)):
            if v.aval.shape == a.shape and v.aval.dtype == a.dtype:
                v.aval = a
        closed = ClosedJaxpr(jaxpr, module)
        if return_shape:
            shapes = tree_util.tree_unflatten(out_tree,
                                              [ShapeDtypeStruct._of(a) for a in out_avals])
            return closed, shapes
        return closed

    return jaxpr_maker


def eval_shape(fun, *args, **kwargs):
    """The shapes and dtypes of `fun(*args, **kwargs)` as `ShapeDtypeStruct`s in its output
    structure, found by tracing (nothing is computed). Arguments may be arrays, Python numbers
    or `ShapeDtypeStruct`s (anything with `.shape` and `.dtype`)."""
    module, out_tree, out_avals, _ = _trace(fun, args, kwargs)
    return tree_util.tree_unflatten(out_tree, [ShapeDtypeStruct._of(a) for a in out_avals])


def block_until_ready(x):
    """Wait until every array in the pytree `x` is computed; returns `x`."""
    for leaf in tree_util.tree_leaves(x):
        wait = getattr(leaf, "block_until_ready", None)
        if wait is not None and not isinstance(leaf, Tracer):
            wait()
    return x


# --- contexts ------------------------------------------------------------------------------

@contextlib.contextmanager
def disable_jit(disable: bool = True):
    """Inside the block, jitted functions run eagerly, op by op (this thread only), so
    `print` and Python control flow on values work in them."""
    config._may_disable = True
    token = config._disable_jit_here.set(bool(disable))
    try:
        yield
    finally:
        config._disable_jit_here.reset(token)


class _CompileTimeEval(core.Trace):
    """On top of a trace: primitives on concrete values compute now; the others go to the
    trace below."""

    def __init__(self, below):
        self.below = below

    def process_primitive(self, prim, args, params):
        if not any(isinstance(a, Tracer) for a in args):
            return core.eval_trace().process_primitive(prim, args, params)
        return self.below.process_primitive(prim, args, params)

    def __getattr__(self, name):    # module, comp, ...: the trace below's
        return getattr(self.below, name)


@contextlib.contextmanager
def ensure_compile_time_eval():
    """Inside `jit`, operations on concrete values (constants, NumPy arrays) compute while
    tracing and give concrete Arrays, so Python can branch on them; operations on traced
    values still trace. Control flow (`lax.cond`, `scan`...) on traced values is not
    supported inside the block. Outside a trace it changes nothing."""
    if not core.is_tracing():
        yield
        return
    with core.new_trace(_CompileTimeEval(core.current_trace())):
        yield


@contextlib.contextmanager
def named_scope(name: str):
    """Instructions traced inside the block show `[name]` before their location in the IR
    text (`%4 = f64[3] sin(%0)  # [name] model.py:12`; nested scopes join with `/`).
    Outside a trace it changes nothing."""
    if not isinstance(name, str):
        raise TypeError(f"named_scope: the name must be a string, got {type(name).__name__}")
    trace = core.current_trace()
    comp = getattr(trace, "comp", None) if isinstance(trace, BuilderTrace) else None
    start = len(comp.instructions) if comp is not None else 0
    try:
        yield
    finally:
        if comp is not None:
            # The instructions this block added; an inner scope has tagged its own already,
            # as `[inner] file.py:3`, which becomes `[outer/inner] file.py:3`.
            for instr in comp.instructions[start:]:
                if instr.opcode in (ir.PARAMETER, ir.CONSTANT):
                    continue
                loc = instr.location or ""
                if loc.startswith("["):
                    instr.location = f"[{name}/{loc[1:]}"
                else:
                    instr.location = f"[{name}] {loc}".rstrip()


def named_call(fun, *, name: str | None = None):
    """`fun` whose traced instructions carry `name` (default: its `__name__`) as a scope."""
    scope = name if name is not None else _name_of(fun)

    @functools.wraps(fun)
    def named(*args, **kwargs):
        with named_scope(scope):
            return fun(*args, **kwargs)

    return named


# --- jax_debug_nans ------------------------------------------------------------------------

def set_nan_checks(on: bool):
    """Make every jitted call check its float outputs for NaN (`jax_debug_nans`). The check
    replaces the jitted call itself, so calls pay nothing for it while it is off."""
    from .jit import JitFunction
    plain = JitFunction.__dict__.get("_unchecked_call") or JitFunction.__call__
    if not on:
        JitFunction.__call__ = plain
        return
    JitFunction._unchecked_call = plain

    def checked_call(self, *args, **kwargs):
        out = plain(self, *args, **kwargs)
        if not core.is_tracing():
            _check_nans(self._name, out)
        return out

    JitFunction.__call__ = checked_call


def _check_nans(fn_name, out):
    for k, leaf in enumerate(tree_util.tree_leaves(out)):
        if isinstance(leaf, Array) and not isinstance(leaf, Tracer) \
                and _kind(leaf.dtype) in "fc" and np.isnan(np.asarray(leaf)).any():
            raise FloatingPointError(
                f"invalid value (nan) encountered in jit({fn_name}): output {k} "
                f"({leaf.aval.str_short()}) holds NaN (jax_debug_nans is on)")
