"""How the call-like derivative primitives evaluate, differentiate and batch.

`custom_jvp_call(primals..., consts...)`, calls=(fun[, jvp]):
    fun(primals..., fun_consts...) -> outs; jvp(primals..., tangents..., jvp_consts...)
    -> (outs..., tangent_outs...). Forward mode evaluates `jvp`; reverse mode transposes it
    (it is linear in the tangents, so its VJP with respect to the tangents, taken at zero
    tangents, is the transpose).
`custom_vjp_call(primals..., consts...)`, calls=(fun[, fwd[, bwd]]):
    fwd(primals..., fwd_consts...) -> (outs..., residuals...);
    bwd(residuals..., out_cotangents..., bwd_consts...) -> input cotangents.
    Forward mode is refused, as in JAX, unless attribute `forward_mode="function"`
    (rematerialization) says to differentiate the function itself.
A rule not among `calls` is the Python rule named by attribute `rule`
(`ops.custom_derivatives.lookup_rules`), run on the values at hand when the derivative is
taken (`custom_rules.py` traces or batches it where needed).

Values an inner function closed over (`consts`) are passed as operands and treated as
constants by the derivative rules: user rules define the derivative with respect to the
explicit arguments only.
"""
from __future__ import annotations

import numpy as np

from ops.dtypes import kind as _kind
from ops import core
from ops.autodiff import move_batch_to_front, zeros_like_aval
from ops.core import PRIMITIVES
from ops.custom_derivatives import lookup_rules, register_rules
from ops.errors import JitcoreError

from . import ir
from .builder import BuilderTrace, build
from .evaluate import eval_computation
from .passes.batching import batch_computation
from .passes.vjp import vjp_computation
from .custom_rules import BatchedJVPRules, BatchedVJPRules, traced_jvp_rule


class CustomDerivativeError(JitcoreError, TypeError):
    """A custom derivative used in a way its definition does not support."""


def _avals(comp):
    return [core.ShapedArray(p.shape.dims, p.shape.dtype) for p in comp.parameters]


def _out_avals(shape):
    return [core.ShapedArray(s.dims, s.dtype) for s in shape]


def _concretely(module, comp, args):
    """Evaluate with NumPy now, even while a builder is on the stack (for concrete tracers)."""
    with core.new_trace(core.eval_trace()):
        return [np.asarray(v) for v in eval_computation(module, comp, args)]


def copy_computation(src_module, comp, dst_module, name=None):
    """`comp` re-traced into `dst_module` (fresh ids); nested calls are re-emitted too."""
    if src_module is dst_module:
        return comp
    _, new, _, captured = build(name or comp.name,
                                lambda *xs: eval_computation(src_module, comp, list(xs)),
                                _avals(comp), dst_module)
    assert not captured, "a sub-computation has no free values"
    dst_module.add_computation(new)
    return new


def emit_call(opcode, operands, called, attrs, out_avals):
    """Emit a call-like instruction on the current (builder) trace; returns its output tracers."""
    trace = core.current_trace()
    assert isinstance(trace, BuilderTrace)
    from .builder import IRTracer
    ops_ = [trace.to_instr(o) for o in operands]
    shape = tuple(ir.to_shape(a) for a in out_avals)
    instr = trace.emit(opcode, ops_, shape, attrs, called=called)
    values = [None] * len(out_avals)
    if trace.concrete:
        conc = [trace.concrete_value(o) for o in operands]
        if all(c is not None for c in conc):
            values = _concretely(trace.module, called[0], conc)
    return [IRTracer(trace, a, trace.emit(ir.GET_TUPLE_ELEMENT, [instr], ir.to_shape(a),
                                          {"index": i}, location=instr.location), v)
            for i, (a, v) in enumerate(zip(out_avals, values))]


def _reemit_or_eval(module, instr, args):
    """Evaluate a call: on a builder, re-emit it (so later transforms still see the custom
    rules); otherwise compute its function."""
    trace = core.current_trace()
    if not isinstance(trace, BuilderTrace):
        return eval_computation(module, instr.called[0], args[primal_operands(instr)])
    called = tuple(copy_computation(module, c, trace.module) for c in instr.called)
    return emit_call(instr.opcode, args, called, instr.attrs, _out_avals(instr.shape))


def _batched_copy(module, comp, flags, size, name):
    """`comp` over a batch (inputs batched where `flags`), every output batched on axis 0,
    built into the current trace's module."""
    avals = [core.ShapedArray(((size,) if b else ()) + a.shape, a.dtype)
             for a, b in zip(_avals(comp), flags)]

    def fn(*xs):
        outs, obs = batch_computation(module, comp, list(xs), flags, size)
        return [move_batch_to_front(o, b, size) for o, b in zip(outs, obs)]
    dst = core.current_trace().module
    _, new, _, _ = build(name, fn, avals, dst)
    dst.add_computation(new)
    return new


def _batched_avals(shape, size):
    return [core.ShapedArray((size,) + s.dims, s.dtype) for s in shape]


def primal_operands(instr) -> slice:
    """The operands the function itself (`called[0]`) takes."""
    if instr.opcode == "fusion":
        return slice(0, len(instr.operands))
    return slice(0, instr.attrs["num_primals"] + instr.attrs["num_fun_consts"])


def _run_function(instr, compile_computation):
    """The interpreter's step for a call-like instruction: run the function itself (`called[0]`)
    on its operands, compiled by the interpreter too; derivative rules play no part."""
    sub = compile_computation(instr.called[0])
    ins = primal_operands(instr)
    if isinstance(instr.shape, tuple):
        return lambda *xs: tuple(sub(list(xs[ins])))
    return lambda *xs: sub(list(xs[ins]))[0]     # a fusion (the CPU fallback runs bodies here)


class FusionRules:
    interp = staticmethod(_run_function)

    """A fusion is its body: every interpreter just runs over the body."""

    def eval(self, module, instr, args):
        return eval_computation(module, instr.called[0], args)

    def jvp(self, module, instr, args, targs):
        from .passes.jvp import jvp_computation
        return jvp_computation(module, instr.called[0], args, targs)

    def vjp(self, module, instr, args, ans, cts):
        cts = cts if isinstance(cts, (tuple, list)) else (cts,)
        wrt = [_kind(core.get_aval(a).dtype) in "fc" for a in args]
        return vjp_computation(module, instr.called[0], args, wrt, list(cts))[1]

    def batch(self, module, instr, args, batched, size):
        return batch_computation(module, instr.called[0], args, batched, size)


class CustomJVPRules:
    interp = staticmethod(_run_function)

    def eval(self, module, instr, args):
        return _reemit_or_eval(module, instr, args)

    @staticmethod
    def _split(instr, args):
        n, nf = instr.attrs["num_primals"], instr.attrs["num_fun_consts"]
        return args[:n], args[n:n + nf], args[n + nf:]

    def jvp(self, module, instr, args, targs):
        primals, _, jvp_consts = self._split(instr, args)
        n = len(primals)
        ts = [t if t is not None else zeros_like_aval(core.get_aval(p))
              for p, t in zip(primals, targs[:n])]
        if len(instr.called) < 2:      # the Python rule, run on this trace's values
            outs, touts = lookup_rules(instr.attrs["rule"]).jvp(list(primals), ts)
            return list(outs), list(touts)
        outs = eval_computation(module, instr.called[1], list(primals) + ts + list(jvp_consts))
        m = len(instr.shape)
        return outs[:m], outs[m:]

    def vjp(self, module, instr, args, ans, cts):
        primals, fun_consts, jvp_consts = self._split(instr, args)
        n, m = len(primals), len(instr.shape)
        zeros = [zeros_like_aval(core.get_aval(p)) for p in primals]
        if len(instr.called) < 2:
            # The rule is traced now (with the primals' values when they are known, so Python
            # control flow on them works in eager `grad`) and transposed in its tangents.
            rule_module, rule, jvp_consts = traced_jvp_rule(instr, primals)
        else:
            rule_module, rule = module, instr.called[1]
        wrt = [False] * n + [_kind(core.get_aval(p).dtype) in "fc" for p in primals] \
            + [False] * len(jvp_consts)
        _, in_cts = vjp_computation(rule_module, rule,
                                    list(primals) + zeros + list(jvp_consts), wrt,
                                    [None] * m + list(cts))
        return in_cts[n:2 * n] + [None] * (len(args) - n)

    def batch(self, module, instr, args, batched, size):
        if not isinstance(core.current_trace(), BuilderTrace):
            sl = primal_operands(instr)
            return batch_computation(module, instr.called[0], args[sl], batched[sl], size)
        primals, _, _ = self._split(instr, args)
        n = len(primals)
        nf = instr.attrs["num_fun_consts"]
        fun_b = _batched_copy(module, instr.called[0], list(batched[:n + nf]), size,
                              instr.called[0].name + ".batched")
        if len(instr.called) < 2:
            rules = BatchedJVPRules(lookup_rules(instr.attrs["rule"]), batched[:n],
                                _avals(instr.called[0])[:n], size)
            attrs = dict(instr.attrs, rule=register_rules(rules))
            outs = emit_call(instr.opcode, args, (fun_b,), attrs,
                             _batched_avals(instr.shape, size))
            return outs, [True] * len(outs)
        jvp_flags = list(batched[:n]) * 2 + list(batched[n + nf:])
        jvp_b = _batched_copy(module, instr.called[1], jvp_flags, size,
                              instr.called[1].name + ".batched")
        outs = emit_call(instr.opcode, args, (fun_b, jvp_b), instr.attrs,
                         _batched_avals(instr.shape, size))
        return outs, [True] * len(outs)


class CustomVJPRules:
    interp = staticmethod(_run_function)

    def eval(self, module, instr, args):
        return _reemit_or_eval(module, instr, args)

    @staticmethod
    def _split(instr, args):
        n = instr.attrs["num_primals"]
        nf, nfw = instr.attrs["num_fun_consts"], instr.attrs["num_fwd_consts"]
        return (args[:n], args[n:n + nf], args[n + nf:n + nf + nfw], args[n + nf + nfw:])

    def jvp(self, module, instr, args, targs):
        if instr.attrs.get("forward_mode") == "function":
            # (rematerialization) forward mode differentiates the function itself
            from .passes.jvp import jvp_computation
            sl = primal_operands(instr)
            return jvp_computation(module, instr.called[0], list(args[sl]), list(targs[sl]))
        raise CustomDerivativeError(
            "can't apply forward-mode differentiation (jvp, jacfwd, hessian) to a custom_vjp "
            "function; it defines only a reverse-mode rule",
            hint="use jacrev/grad, or define the derivative with custom_jvp instead")

    def vjp(self, module, instr, args, ans, cts):
        primals, fun_consts, fwd_consts, bwd_consts = self._split(instr, args)
        m = len(instr.shape)
        if len(instr.called) > 1:
            res = eval_computation(module, instr.called[1], list(primals) + list(fwd_consts))[m:]
        else:
            _, res = lookup_rules(instr.attrs["rule"]).fwd(list(primals))
        cts = [c if c is not None else zeros_like_aval(a)
               for c, a in zip(cts, _out_avals(instr.shape))]
        if len(instr.called) > 2:
            in_cts = eval_computation(module, instr.called[2], list(res) + cts + list(bwd_consts))
        else:
            in_cts = lookup_rules(instr.attrs["rule"]).bwd(list(res), cts)
        return list(in_cts) + [None] * (len(fun_consts) + len(fwd_consts) + len(bwd_consts))

    def batch(self, module, instr, args, batched, size):
        if not isinstance(core.current_trace(), BuilderTrace):
            sl = primal_operands(instr)
            return batch_computation(module, instr.called[0], args[sl], batched[sl], size)
        primals, fun_c, fwd_c, bwd_c = self._split(instr, args)
        n, nf, nfw = len(primals), len(fun_c), len(fwd_c)
        b = list(batched)
        fun_b = _batched_copy(module, instr.called[0], b[:n + nf], size,
                              instr.called[0].name + ".batched")
        if len(instr.called) < 3:
            # Rules not traced yet: the batched call's rules batch the Python ones on demand.
            rules = BatchedVJPRules(lookup_rules(instr.attrs["rule"]), b[:n],
                                _avals(instr.called[0])[:n], size)
            attrs = dict(instr.attrs, rule=register_rules(rules), num_fwd_consts=0)
            outs = emit_call(instr.opcode, list(args[:n + nf]), (fun_b,), attrs,
                             _batched_avals(instr.shape, size))
            return outs, [True] * len(outs)
        fwd_b = _batched_copy(module, instr.called[1], b[:n] + b[n + nf:n + nf + nfw], size,
                              instr.called[1].name + ".batched")
        n_res = len(instr.called[1].root.shape) - len(instr.shape) \
            if isinstance(instr.called[1].root.shape, tuple) else 0
        bwd_flags = [True] * (n_res + len(instr.shape)) + b[n + nf + nfw:]
        bwd_b = _batched_copy(module, instr.called[2], bwd_flags, size,
                              instr.called[2].name + ".batched")
        outs = emit_call(instr.opcode, args, (fun_b, fwd_b, bwd_b), instr.attrs,
                         _batched_avals(instr.shape, size))
        return outs, [True] * len(outs)


PRIMITIVES["fusion"].call_rules = FusionRules()
PRIMITIVES["custom_jvp_call"].call_rules = CustomJVPRules()
PRIMITIVES["custom_vjp_call"].call_rules = CustomVJPRules()
