"""Control flow on flat lists of values: tracing bodies into sub-computations, emitting
`cond` / `while` / `scan` instructions, and evaluating them.

`cond_flat`, `while_flat` and `scan_flat` take Python callables over lists of values and bind on
the current trace: with a builder on the stack they trace the callables into sub-computations
of the module being built and emit one instruction; with no trace they compute the loop with
NumPy, one body evaluation per iteration. The user API (`jitcore.lax`) adds pytrees and error
messages on top; the transform rules (`control_flow_rules`) use these to write derivative and
batched loops.

Values a body closes over (tracers of an enclosing trace) become `consts`: extra parameters
after the explicit ones, shared in the same order by all sub-computations of one instruction,
and extra operands of the instruction.
"""
from __future__ import annotations

import numpy as np

from ops import core
from ops.core import ShapedArray

from . import ir
from .builder import BuilderTrace, IRTracer
from .evaluate import eval_computation


def aval_of(x) -> ShapedArray:
    return core.get_aval(x)


def out_avals_of(comp):
    root = comp.root
    shapes = root.shape if isinstance(root.shape, tuple) else (root.shape,)
    return [ShapedArray(s.dims, s.dtype) for s in shapes]


def current_builder():
    trace = core.current_trace()
    return trace if isinstance(trace, BuilderTrace) else None


def trace_bodies(module: ir.Module, specs):
    """Trace each `(name, fn, avals)` (fn: list of tracers -> list of outputs) into a new
    computation of `module`. Values closed over are shared: every computation gets a parameter
    for each, after its own, in one order. Returns (computations, out avals per spec, consts)."""
    consts: list = []
    traced = []
    for name, fn, avals in specs:
        trace = BuilderTrace(module, name)
        with core.new_trace(trace):
            params = [trace.new_parameter(a) for a in avals]
            for c in consts:          # the ones earlier bodies found, in their order
                trace.to_instr(c)
            outs = fn(*params)
            outs = list(outs)
            out_avals = [aval_of(o) for o in outs]
            comp = trace.finish(outs)
        consts.extend(t for t, _ in trace.captured[len(consts):])
        traced.append((comp, trace, out_avals))
    comps, out_avals_list = [], []
    for comp, trace, out_avals in traced:
        for c in consts[len(trace.captured):]:
            trace.to_instr(c)         # an unused parameter, so all take the same list
        module.add_computation(comp)
        comps.append(comp)
        out_avals_list.append(out_avals)
    return comps, out_avals_list, consts


def emit(opcode, operands, called, attrs, out_avals, compute):
    """Emit a control-flow instruction on the current builder; its values are computed now by
    `compute(concrete operands)` when the builder tracks concrete values and all are known."""
    trace = current_builder()
    instrs = [trace.to_instr(o) for o in operands]
    shape = tuple(ir.to_shape(a) for a in out_avals)
    instr = trace.emit(opcode, instrs, shape, dict(attrs), called=tuple(called))
    values = [None] * len(out_avals)
    if trace.concrete:
        conc = [trace.concrete_value(o) for o in operands]
        if all(c is not None for c in conc):
            with core.new_trace(core.eval_trace()):
                values = [np.asarray(v) for v in compute(conc)]
    return [IRTracer(trace, a, trace.emit(ir.GET_TUPLE_ELEMENT, [instr], ir.to_shape(a),
                                          {"index": i}, location=instr.location), v)
            for i, (a, v) in enumerate(zip(out_avals, values))]


def _wrap(value, aval):
    return core.eval_trace().wrap(np.asarray(value, dtype=aval.dtype), aval)


def wrap_all(values, avals):
    """Eager results as the arrays users see, with the weak types tracing decided."""
    return [_wrap(v, a) for v, a in zip(values, avals)]


# --- evaluation with NumPy (no trace active) ---------------------------------------------------

def clamp_index(index, n: int) -> int:
    return int(min(max(int(np.asarray(index)), 0), n - 1))


def run_cond(module, branches, args):
    return eval_computation(module, branches[clamp_index(args[0], len(branches))],
                            list(args[1:]))


def run_while(module, cond, body, num_carry, args):
    carry, consts = list(args[:num_carry]), list(args[num_carry:])
    while bool(np.asarray(eval_computation(module, cond, carry + consts)[0])):
        carry = list(eval_computation(module, body, carry + consts))
    return carry


def run_scan(module, body, num_carry, num_xs, length, reverse, args):
    carry = list(args[:num_carry])
    xs = [np.asarray(x) for x in args[num_carry:num_carry + num_xs]]
    consts = list(args[num_carry + num_xs:])
    y_avals = out_avals_of(body)[num_carry:]
    ys = [np.empty((length,) + a.shape, a.dtype) for a in y_avals]
    for t in (reversed(range(length)) if reverse else range(length)):
        out = eval_computation(module, body, carry + [x[t] for x in xs] + consts)
        carry = list(out[:num_carry])
        for y, v in zip(ys, out[num_carry:]):
            y[t] = np.asarray(v)
    return carry + [_wrap(y, ShapedArray(y.shape, y.dtype)) for y in ys]


# --- flat loops: bind on the current trace ------------------------------------------------------

def _known_while_tracing(builder, x):
    """The value of `x` if it is a Python/NumPy value or a constant of `builder`, else None."""
    if not isinstance(x, core.Tracer):
        return np.asarray(x)
    if isinstance(x, IRTracer) and x._trace is builder and x.instr.opcode == ir.CONSTANT:
        return x.instr.attrs["value"]
    return None


def _scratch_module():
    return ir.Module("eager_control_flow")


def cond_flat(index, branch_fns, operands, name="branch", check=None):
    """`branch_fns[clamp(index)](*operands)`; every branch returns a list of values with the
    same avals (`check()`, called once all are traced, may verify it). Returns the outputs.
    An index known while tracing (not a tracer) inlines the chosen branch."""
    builder = current_builder()
    module = builder.module if builder else _scratch_module()
    avals = [aval_of(o) for o in operands]
    comps, outs, consts = trace_bodies(
        module, [(f"{name}{k}", fn, avals) for k, fn in enumerate(branch_fns)])
    if check is not None:
        check()
    args = [index] + list(operands) + consts
    out_avals = [a.update(weak_type=all(o[k].weak_type for o in outs))
                 for k, a in enumerate(outs[0])]
    if builder is None:
        return wrap_all(run_cond(module, comps, args), out_avals)
    known = _known_while_tracing(builder, index)
    if known is not None:
        # Trace the chosen branch again, in place (its comps were only for checking).
        for c in comps:
            module.computations.pop(c.name, None)
        return list(branch_fns[clamp_index(known, len(comps))](*operands))
    return emit("cond", args, comps, {}, out_avals, lambda vals: run_cond(module, comps, vals))


def while_flat(cond_fn, body_fn, init, name="loop"):
    """Repeat `carry = body_fn(*carry)` while `cond_fn(*carry)[0]`; returns the final carry."""
    builder = current_builder()
    module = builder.module if builder else _scratch_module()
    avals = [aval_of(x) for x in init]
    (cond, body), _, consts = trace_bodies(
        module, [(f"{name}.cond", cond_fn, avals), (f"{name}.body", body_fn, avals)])
    args = list(init) + consts
    n = len(init)
    if builder is None:
        return wrap_all(run_while(module, cond, body, n, args), avals)
    return emit("while", args, (cond, body), {"num_carry": n}, avals,
                lambda vals: run_while(module, cond, body, n, vals))


def scan_flat(body_fn, init, xs, length: int, reverse: bool = False, name="scan"):
    """`body_fn(*carry, *x_t) -> carry + y_t` over t; returns final carry + stacked ys."""
    builder = current_builder()
    module = builder.module if builder else _scratch_module()
    c_avals = [aval_of(x) for x in init]
    x_avals = [ShapedArray(aval_of(x).shape[1:], aval_of(x).dtype) for x in xs]
    (body,), (outs,), consts = trace_bodies(module, [(name, body_fn, c_avals + x_avals)])
    n, m = len(init), len(xs)
    args = list(init) + list(xs) + consts
    attrs = {"num_carry": n, "num_xs": m, "length": int(length), "reverse": bool(reverse)}
    y_avals = [ShapedArray((length,) + a.shape, a.dtype, a.weak_type) for a in outs[n:]]
    if builder is None:
        return wrap_all(run_scan(module, body, n, m, length, reverse, args), c_avals + y_avals)
    return emit("scan", args, (body,), attrs, c_avals + y_avals,
                lambda vals: run_scan(module, body, n, m, length, reverse, vals))


# --- the reference interpreter's version: bodies compiled once, loops in Python -----------------

def interp_runner(instr, compile_computation):
    """A function computing `instr` from its operand arrays, with each body compiled by the
    interpreter (`compile_computation(comp) -> run(list) -> list`)."""
    subs = [compile_computation(c) for c in instr.called]
    op, a = instr.opcode, instr.attrs
    if op == "cond":
        def run(index, *ops):
            return tuple(subs[clamp_index(index, len(subs))](list(ops)))
    elif op == "while":
        n = a["num_carry"]
        cond, body = subs

        def run(*args):
            carry, consts = list(args[:n]), list(args[n:])
            while bool(cond(carry + consts)[0]):
                carry = body(carry + consts)
            return tuple(carry)
    elif op == "scan":
        n, m, length, reverse = a["num_carry"], a["num_xs"], a["length"], a["reverse"]
        (body,) = subs
        y_avals = out_avals_of(instr.called[0])[n:]

        def run(*args):
            carry = list(args[:n])
            xs = args[n:n + m]
            consts = list(args[n + m:])
            ys = [np.empty((length,) + y.shape, y.dtype) for y in y_avals]
            for t in (reversed(range(length)) if reverse else range(length)):
                out = body(carry + [x[t] for x in xs] + consts)
                carry = out[:n]
                for y, v in zip(ys, out[n:]):
                    y[t] = v
            return tuple(carry) + tuple(ys)
    else:
        return None
    return run
