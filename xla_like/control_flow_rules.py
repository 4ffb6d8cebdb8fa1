"""How `cond`, `while` and `scan` evaluate, differentiate and batch (the `call_rules` of their primitives).

Every rule is written with the flat loops of `control_flow` and the transform interpreters, so
it binds on the current trace: numbers with no trace active, new loops in the IR under a trace.

- Forward mode threads tangents through the same construct: a carry gets a tangent if its
  initial value has one or the body can give it one (a fixpoint over the body's dependencies).
- Reverse mode of `cond` runs the chosen branch's VJP in a `cond`. `scan` runs forward once,
  saving every step's carry and the intermediates its VJP reads (`loop_residuals`; within a
  memory budget, else they are recomputed from the carry), and runs the body's VJP in a
  reversed scan that reads them. `while` has no static trip count: it
  first counts the iterations, then records the carry every `s` iterations into a tape of
  `K` slots (`s = ceil(n / K)`, `K` chosen so the tape stays under `TAPE_BYTES`; a scan over
  the slots, each step recording its starting carry and running `s` body steps), and the
  backward loop recomputes each step's carry from the nearest recorded one. With `n <= K`
  every carry is recorded (one carry per iteration, no recomputation); beyond that memory
  stays at `K` carries and each backward step recomputes at most `s - 1` body steps.
- Batching: a batched `cond` index evaluates every branch and selects per example; a batched
  `while` predicate runs until every example is done and freezes the finished ones; `scan`
  batches its carries (as far as the body spreads the batch) and its xs along their second axis.
"""
from __future__ import annotations

import numpy as np

from ops.dtypes import kind as _kind
from ops import core
from ops import elementwise as el
from ops import reduction as red
from ops import shape as sh
from ops.autodiff import add_any, move_batch_to_front, zeros_like_aval
from ops.custom_derivatives import stop_gradient
from ops.core import PRIMITIVES, ShapedArray

from . import ir
from .control_flow import (aval_of, cond_flat, current_builder, emit, interp_runner, out_avals_of,
                           run_cond, run_scan, run_while, scan_flat, while_flat)
from .custom_calls import copy_computation
from .evaluate import eval_computation, output_instrs, replay, results
from . import loop_residuals
from .passes.batching import batch_computation
from .passes.jvp import jvp_computation
from .passes.vjp import forward_env, pull_back, vjp_computation

TAPE_BYTES = 1 << 24      # reverse-mode while_loop: memory for recorded carries
TAPE_MAX_SLOTS = 1024


def _is_float(a) -> bool:
    return _kind(a.dtype) == "f"


def _instr_avals(instr):
    return [ShapedArray(s.dims, s.dtype) for s in instr.shape]


def depends(comp, flags):
    """For each output of `comp`: does it depend on a parameter whose flag is set?"""
    active = {p.id for p in comp.parameters if flags[p.attrs["index"]]}
    for instr in comp.instructions:
        if instr.opcode != ir.PARAMETER and any(o.id in active for o in instr.operands):
            active.add(instr.id)
    return [o.id in active for o in output_instrs(comp)]


def _reemit(module, instr, args, compute):
    """Re-emit `instr` on the current builder (copying its bodies into that module)."""
    dst = current_builder().module
    called = tuple(copy_computation(module, c, dst) for c in instr.called)
    return emit(instr.opcode, args, called, instr.attrs, _instr_avals(instr), compute)


def _i64(v):
    return np.int64(v)


def _zeros(avals):
    return [zeros_like_aval(a) for a in avals]


def _pick(values, flags):
    return [v for v, f in zip(values, flags) if f]


def _spread(values, flags, fill=None):
    it = iter(values)
    return [next(it) if f else fill for f in flags]


def _guard(pred, x):
    """`x` where the batch's `pred` holds, `stop_gradient(x)` elsewhere (same values)."""
    if not _is_float(aval_of(x)):
        return x
    p = sh.broadcast_in_dim(pred, shape=aval_of(x).shape, broadcast_dimensions=(0,))
    return el.select(p, x, stop_gradient(x))


# --- cond -----------------------------------------------------------------------------------------

class CondRules:
    interp = staticmethod(interp_runner)   # the interpreter backend's step

    def eval(self, module, instr, args):
        if current_builder() is None:
            return run_cond(module, instr.called, args)
        return _reemit(module, instr, args, lambda vals: run_cond(module, instr.called, vals))

    def jvp(self, module, instr, args, targs):
        index, ops, ts = args[0], list(args[1:]), list(targs[1:])
        branches = instr.called
        out_avals = _instr_avals(instr)
        nz = [t is not None for t in ts]
        if not any(nz):
            return self.eval(module, instr, args), [None] * len(out_avals)
        reach = [any(d) for d in zip(*[depends(b, nz) for b in branches])]
        out_nz = [r and _is_float(a) for r, a in zip(reach, out_avals)]
        n = len(ops)

        def branch(k):
            def fn(*xs):
                outs, touts = jvp_computation(module, branches[k], list(xs[:n]),
                                              _spread(xs[n:], nz))
                return list(outs) + [t if t is not None else zeros_like_aval(a)
                                     for t, a in _pick(list(zip(touts, out_avals)), out_nz)]
            return fn
        res = cond_flat(index, [branch(k) for k in range(len(branches))],
                        ops + _pick(ts, nz), name="jvp.branch")
        m = len(out_avals)
        return res[:m], _spread(res[m:], out_nz)

    def vjp(self, module, instr, args, ans, cts):
        index, ops = args[0], list(args[1:])
        branches = instr.called
        wrt = [_is_float(aval_of(o)) for o in ops]
        has = [c is not None for c in cts]
        if not any(has) or not any(wrt):
            return [None] * len(args)
        n = len(ops)

        def branch(k):
            def fn(*xs):
                _, in_cts = vjp_computation(module, branches[k], list(xs[:n]), wrt,
                                            _spread(xs[n:], has))
                return [c if c is not None else zeros_like_aval(aval_of(o))
                        for c, o in _pick(list(zip(in_cts, xs[:n])), wrt)]
            return fn
        res = cond_flat(index, [branch(k) for k in range(len(branches))],
                        ops + _pick(list(cts), has), name="vjp.branch")
        return [None] + _spread(res, wrt)

    def batch(self, module, instr, args, batched, size):
        index, ops = args[0], list(args[1:])
        ib, ob = batched[0], list(batched[1:])
        branches = instr.called
        m = len(instr.shape)
        if ib:
            # Every branch runs on every example; each example keeps its own branch's result.
            # A branch sees the examples that did not choose it through stop_gradient, so
            # reverse mode sends nothing into it for them (no 0 * inf = NaN; JAX does the same).
            idx = el.max(el.min(index, np.full(size, len(branches) - 1, aval_of(index).dtype)),
                         np.zeros(size, aval_of(index).dtype))
            results = []
            for k, b in enumerate(branches):
                take = el.eq(idx, np.full(size, k, aval_of(index).dtype))
                ops_k = [_guard(take, o) if f else o for o, f in zip(ops, ob)]
                outs, obs = batch_computation(module, b, ops_k, ob, size)
                results.append([move_batch_to_front(o, f, size) for o, f in zip(outs, obs)])
            out = results[0]
            for k in range(1, len(branches)):
                take = el.eq(idx, np.full(size, k, aval_of(index).dtype))
                out = [el.select(sh.broadcast_in_dim(take, shape=aval_of(o).shape,
                                                     broadcast_dimensions=(0,)), r, o)
                       for r, o in zip(results[k], out)]
            return out, [True] * m
        out_b = [any(d) for d in zip(*[depends(b, ob) for b in branches])]

        def branch(k):
            def fn(*xs):
                outs, obs = batch_computation(module, branches[k], list(xs), ob, size)
                return [move_batch_to_front(o, f, size) if want else o
                        for o, f, want in zip(outs, obs, out_b)]
            return fn
        return cond_flat(index, [branch(k) for k in range(len(branches))], ops,
                         name="batched.branch"), out_b


# --- while ----------------------------------------------------------------------------------------

def _carry_fixpoint(body, flags, const_flags, avals, only_float):
    """Which carries become marked (tangent-carrying or batched) after any number of steps."""
    flags = list(flags)
    while True:
        reach = depends(body, flags + list(const_flags))
        new = [f or (r and (_is_float(a) or not only_float))
               for f, r, a in zip(flags, reach, avals)]
        if new == flags:
            return flags
        flags = new


class WhileRules:
    interp = staticmethod(interp_runner)   # the interpreter backend's step

    def eval(self, module, instr, args):
        cond, body = instr.called
        n = instr.attrs["num_carry"]
        if current_builder() is None:
            return run_while(module, cond, body, n, args)
        return _reemit(module, instr, args, lambda vals: run_while(module, cond, body, n, vals))

    def jvp(self, module, instr, args, targs):
        cond, body = instr.called
        n = instr.attrs["num_carry"]
        carry, consts = list(args[:n]), list(args[n:])
        avals = [aval_of(x) for x in carry]
        knz = [t is not None for t in targs[n:]]
        nz = [t is not None and _is_float(a) for t, a in zip(targs[:n], avals)]
        nz = _carry_fixpoint(body, nz, knz, avals, only_float=True)
        if not any(nz):
            return self.eval(module, instr, args), [None] * n
        kt = list(targs[n:])

        def cond_fn(*xs):
            return eval_computation(module, cond, list(xs[:n]) + consts)

        def body_fn(*xs):
            outs, touts = jvp_computation(module, body, list(xs[:n]) + consts,
                                          _spread(xs[n:], nz) + kt)
            return list(outs) + [t if t is not None else zeros_like_aval(a)
                                 for t, a in _pick(list(zip(touts, avals)), nz)]
        tinit = [t if t is not None else zeros_like_aval(a)
                 for t, a in _pick(list(zip(targs[:n], avals)), nz)]
        res = while_flat(cond_fn, body_fn, carry + tinit, name="jvp.loop")
        return res[:n], _spread(res[n:], nz)

    def vjp(self, module, instr, args, ans, cts):
        cond, body = instr.called
        n = instr.attrs["num_carry"]
        carry0, consts = list(args[:n]), list(args[n:])
        avals = [aval_of(x) for x in carry0]
        fc = [_is_float(a) for a in avals]
        fk = [_is_float(aval_of(k)) for k in consts]
        if not any(c is not None for c in cts) or not (any(fc) or any(fk)):
            return [None] * len(args)

        def step(c):
            return list(eval_computation(module, body, list(c) + consts))

        def holds(c):
            return eval_computation(module, cond, list(c) + consts)

        # 1. The trip count.
        trips = while_flat(lambda i, *c: holds(c), lambda i, *c: [el.add(i, _i64(1))] + step(c),
                           [_i64(0)] + carry0, name="vjp.count")[0]
        # 2. Record the carry every `stride` steps: a scan over the K slots whose step j
        # records the carry it starts from (carry number j * stride) as its y (ys are written in
        # place, so recording costs one carry per slot) and then runs up to `stride` body steps.
        carry_bytes = sum(a.size * a.dtype.itemsize for a in avals)
        slots = int(max(4, min(TAPE_MAX_SLOTS, TAPE_BYTES // max(carry_bytes, 1))))
        known = getattr(trips, "concrete", None) if isinstance(trips, core.Tracer) else trips
        if known is not None:
            # Evaluated eagerly, the trip count is known: no more slots than steps (the scan
            # runs slot by slot in Python there). Any slot count is exact: the stride adapts.
            slots = max(1, min(slots, int(np.asarray(known))))
        stride = el.max(el.div(el.add(trips, _i64(slots - 1)), _i64(slots)), _i64(1))

        def segment(i, *c):
            end = el.min(el.add(i, stride), trips)
            run = while_flat(lambda k, *v: [el.lt(k, end)],
                             lambda k, *v: [el.add(k, _i64(1))] + step(v),
                             [i] + list(c), name="vjp.segment")
            return list(run) + list(c)
        tape = scan_flat(segment, [_i64(0)] + carry0, [], slots, name="vjp.record")[1 + n:]

        # 3. Backwards from the last step: recompute carry i from the nearest record, pull the
        # cotangent back through one body step, accumulate the consts' cotangents.
        ct0 = [c if c is not None else zeros_like_aval(a)
               for c, a in _pick(list(zip(cts, avals)), fc)]
        acc0 = _zeros([aval_of(k) for k in _pick(consts, fk)])
        nf = len(ct0)

        def back(i, *state):
            ct_c, acc = state[:nf], state[nf:]
            slot = el.div(i, stride)
            base = [sh.reshape(sh.dynamic_slice(t, slot, *[_i64(0)] * len(a.shape),
                                                slice_sizes=(1,) + a.shape), new_sizes=a.shape)
                    for t, a in zip(tape, avals)]
            ci = while_flat(lambda k, *c: [el.lt(k, i)],
                            lambda k, *c: [el.add(k, _i64(1))] + step(c),
                            [el.mul(slot, stride)] + base, name="vjp.recompute")[1:]
            _, in_cts = vjp_computation(module, body, list(ci) + consts, fc + fk,
                                        _spread(ct_c, fc))
            new_ct = [c if c is not None else zeros_like_aval(a)
                      for c, a in _pick(list(zip(in_cts[:n], avals)), fc)]
            new_acc = [add_any(s, c) for s, c in zip(acc, _pick(in_cts[n:], fk))]
            return [el.sub(i, _i64(1))] + new_ct + new_acc
        res = while_flat(lambda i, *s: [el.ge(i, _i64(0))], back,
                         [el.sub(trips, _i64(1))] + ct0 + acc0, name="vjp.backward")[1:]
        return _spread(res[:nf], fc) + _spread(res[nf:], fk)

    def batch(self, module, instr, args, batched, size):
        cond, body = instr.called
        n = instr.attrs["num_carry"]
        carry, consts = list(args[:n]), list(args[n:])
        avals = [aval_of(x) for x in carry]
        kb = list(batched[n:])
        cb = _carry_fixpoint(body, list(batched[:n]), kb, avals, only_float=False)
        pred_batched = depends(cond, cb + kb)[0]
        if pred_batched:
            cb = [True] * n
        init = [move_batch_to_front(x, b, size) if want else x
                for x, b, want in zip(carry, batched[:n], cb)]

        def run_cond_b(xs):
            (p,), (pb,) = batch_computation(module, cond, list(xs) + consts, cb + kb, size)
            return p, pb

        def body_b(*xs):
            if not pred_batched:
                outs, obs = batch_computation(module, body, list(xs) + consts, cb + kb, size)
                return [move_batch_to_front(o, f, size) if want else o
                        for o, f, want in zip(outs, obs, cb)]
            # Finished examples keep their carry; the body still runs on them, through
            # stop_gradient, so reverse mode sends nothing into those steps.
            p, pb = run_cond_b(xs)
            p = move_batch_to_front(p, pb, size)
            live = [_guard(p, x) for x in xs]
            outs, obs = batch_computation(module, body, live + consts, cb + kb, size)
            outs = [move_batch_to_front(o, f, size) for o, f in zip(outs, obs)]
            return [el.select(sh.broadcast_in_dim(p, shape=aval_of(o).shape,
                                                  broadcast_dimensions=(0,)), o, x)
                    for o, x in zip(outs, xs)]

        def cond_b(*xs):
            p, pb = run_cond_b(xs)
            return [red.reduce_or(p, axes=(0,)) if pb else p]
        return while_flat(cond_b, body_b, init, name="batched.loop"), cb


# --- scan -----------------------------------------------------------------------------------------

class ScanRules:
    interp = staticmethod(interp_runner)   # the interpreter backend's step

    @staticmethod
    def _split(instr, args):
        n, m = instr.attrs["num_carry"], instr.attrs["num_xs"]
        return list(args[:n]), list(args[n:n + m]), list(args[n + m:])

    def eval(self, module, instr, args):
        a = instr.attrs
        (body,) = instr.called

        def compute(vals):
            return run_scan(module, body, a["num_carry"], a["num_xs"], a["length"],
                            a["reverse"], vals)
        if current_builder() is None:
            return compute(args)
        return _reemit(module, instr, args, compute)

    def jvp(self, module, instr, args, targs):
        (body,) = instr.called
        a = instr.attrs
        n, m = a["num_carry"], a["num_xs"]
        carry, xs, consts = self._split(instr, args)
        tc, tx, tk = self._split(instr, targs)
        avals = [aval_of(x) for x in carry]
        xnz = [t is not None for t in tx]
        knz = [t is not None for t in tk]
        cnz = _carry_fixpoint(body, [t is not None and _is_float(a_) for t, a_ in
                                     zip(tc, avals)], xnz + knz, avals, only_float=True)
        y_avals = out_avals_of(body)[n:]
        ynz = [r and _is_float(y) for r, y in
               zip(depends(body, cnz + xnz + knz)[n:], y_avals)]
        if not (any(cnz) or any(ynz)):
            return self.eval(module, instr, args), [None] * len(instr.shape)
        nc, nx = sum(cnz), sum(xnz)

        def body_fn(*vs):
            c, ct = list(vs[:n]), vs[n:n + nc]
            x, xt = list(vs[n + nc:n + nc + m]), vs[n + nc + m:]
            outs, touts = jvp_computation(module, body, c + x + consts,
                                          _spread(ct, cnz) + _spread(xt, xnz) + list(tk))
            zs = lambda vals, flags, avs: [t if t is not None else zeros_like_aval(av)  # noqa
                                           for t, av in _pick(list(zip(vals, avs)), flags)]
            return (list(outs[:n]) + zs(touts[:n], cnz, avals) + list(outs[n:])
                    + zs(touts[n:], ynz, y_avals))
        tinit = [t if t is not None else zeros_like_aval(av)
                 for t, av in _pick(list(zip(tc, avals)), cnz)]
        res = scan_flat(body_fn, carry + tinit, xs + _pick(tx, xnz), a["length"], a["reverse"],
                        name="jvp.scan")
        ny = len(y_avals)
        outs = res[:n] + res[n + nc:n + nc + ny]
        touts = _spread(res[n:n + nc], cnz) + _spread(res[n + nc + ny:], ynz)
        return outs, touts

    def forward(self, module, instr, args):
        """The scan as reverse mode replays it: (outputs, residuals), the residuals being
        every step's starting carry and the intermediates its VJP reads (`loop_residuals`),
        stacked along the steps. Outputs or residuals nobody reads are removed later (`dce`
        prunes a scan's unused outputs)."""
        (body,) = instr.called
        a = instr.attrs
        n, length = a["num_carry"], a["length"]
        carry, xs, consts = self._split(instr, args)
        if not any(_is_float(aval_of(v)) for v in args):
            return self.eval(module, instr, args), None
        plan = loop_residuals.residual_plan(module, body, n, a["num_xs"])
        if loop_residuals.plan_bytes(body, plan, length) > loop_residuals.RESIDUAL_BYTES:
            plan = []    # recompute each step's intermediates from its carry instead

        def fwd(*vs):
            env = replay(module, body, list(vs) + consts)
            return results(body, env) + list(vs[:n]) + [env[k] for k in plan]
        res = scan_flat(fwd, carry, xs, length, a["reverse"], name="vjp.forward")
        k = len(instr.shape)
        return res[:k], (plan, res[k:])

    def vjp(self, module, instr, args, ans, cts):
        _, res = self.forward(module, instr, args)
        if res is None:
            return [None] * len(args)
        return self.vjp_saved(module, instr, args, ans, cts, res)

    def vjp_saved(self, module, instr, args, ans, cts, residuals):
        (body,) = instr.called
        a = instr.attrs
        n, m, length, reverse = a["num_carry"], a["num_xs"], a["length"], a["reverse"]
        carry, xs, consts = self._split(instr, args)
        avals = [aval_of(x) for x in carry]
        x_avals = [aval_of(x) for x in xs]
        fc = [_is_float(v) for v in avals]
        fx = [_is_float(v) for v in x_avals]
        fk = [_is_float(aval_of(k)) for k in consts]
        if not any(c is not None for c in cts) or not (any(fc) or any(fx) or any(fk)):
            return [None] * len(args)
        plan, saved = residuals
        ns = len(saved)

        ct_carry = [c if c is not None else zeros_like_aval(v)
                    for c, v in _pick(list(zip(cts[:n], avals)), fc)]
        yflags = [c is not None for c in cts[n:]]
        ct_ys = _pick(list(cts[n:]), yflags)
        acc0 = _zeros([aval_of(k) for k in _pick(consts, fk)])
        nf, na = len(ct_carry), len(acc0)

        # Backwards over the steps: the step's forward values are its saved carry and
        # intermediates (the rest is replayed; what the VJP does not read is dead code), the
        # consts' cotangents accumulate in carries, the xs' ones are the ys.
        def bwd(*vs):
            ct_c, acc = vs[:nf], vs[nf:nf + na]
            rest = vs[nf + na:]
            c_t, r_t = list(rest[:n]), list(rest[n:ns])
            x_t, cty = list(rest[ns:ns + m]), rest[ns + m:]
            env, res = forward_env(module, body, c_t + x_t + consts, dict(zip(plan, r_t)))
            in_cts = pull_back(module, body, env, fc + fx + fk,
                               _spread(ct_c, fc) + _spread(cty, yflags), res)
            zs = lambda vals, flags, avs: [c if c is not None else zeros_like_aval(av)  # noqa
                                           for c, av in _pick(list(zip(vals, avs)), flags)]
            new_acc = [add_any(s, c) for s, c in zip(acc, _pick(in_cts[n + m:], fk))]
            return (zs(in_cts[:n], fc, avals) + new_acc
                    + zs(in_cts[n:n + m], fx, [ShapedArray(v.shape[1:], v.dtype)
                                               for v in x_avals]))
        res = scan_flat(bwd, ct_carry + acc0, list(saved) + xs + ct_ys, length, not reverse,
                        name="vjp.backward")
        return (_spread(res[:nf], fc) + _spread(res[nf + na:], fx)
                + _spread(res[nf:nf + na], fk))

    def batch(self, module, instr, args, batched, size):
        (body,) = instr.called
        a = instr.attrs
        n, m = a["num_carry"], a["num_xs"]
        carry, xs, consts = self._split(instr, args)
        cb0, xb, kb = self._split(instr, list(batched))
        avals = [aval_of(x) for x in carry]
        cb = _carry_fixpoint(body, cb0, xb + kb, avals, only_float=False)
        init = [move_batch_to_front(x, b, size) if want else x
                for x, b, want in zip(carry, cb0, cb)]
        # The scanned axis stays first: batched xs carry the batch second.
        xs_t = [sh.transpose(x, permutation=(1, 0) + tuple(range(2, aval_of(x).ndim)))
                if b else x for x, b in zip(xs, xb)]

        yb = depends(body, cb + xb + kb)[n:]

        def body_fn(*vs):
            outs, obs = batch_computation(module, body, list(vs) + consts, cb + xb + kb, size)
            return [move_batch_to_front(o, f, size) if want else o
                    for o, f, want in zip(outs, obs, cb + yb)]
        res = scan_flat(body_fn, init, xs_t, a["length"], a["reverse"], name="batched.scan")
        ys = [sh.transpose(y, permutation=(1, 0) + tuple(range(2, aval_of(y).ndim)))
              if want else y for y, want in zip(res[n:], yb)]
        return res[:n] + ys, cb + yb


PRIMITIVES["cond"].call_rules = CondRules()
PRIMITIVES["while"].call_rules = WhileRules()
PRIMITIVES["scan"].call_rules = ScanRules()
