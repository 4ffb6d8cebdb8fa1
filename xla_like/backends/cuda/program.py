"""A CUDA executable loaded on one device: a call runs its plan's steps on the device's stream.

- Arguments: a GPU-resident array on this device (an object with a `_buf` DeviceBuffer: a
  jitcore Array) is used where it is; anything else is uploaded to memory of this call.
- Steps: kernels launch with the plan's buffer pointers; dots on float32/float64 call cuBLAS
  when it loaded, else the tiled kernel; two-pass reductions launch their per-block pass, then
  the combining pass, through scratch memory of this program; scatters launch one block of one
  thread. Steps no kernel expresses (sort, cumulative scans) run with NumPy between copies of
  their operands to the host and results back.
- Control flow (`while`, `scan`, `cond`) is driven from the host over the sub-plans of
  `plan.control`: their parameters and results are pointer slots, repointed before each
  iteration. Carries ping-pong between the instruction's results and scratch buffers (no copy
  per iteration), a scan's `x_t` and `y_t` are offsets into the stacked arrays, a while's
  predicate and a cond's index are read back to the host when needed.
- Results stay on the device: each output is a DeviceBuffer of its own (an output that is an
  argument, a constant or another output's buffer is copied). An output the plan lets take a
  donated argument's memory takes that argument's buffer over.
"""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from ... import profile_hooks
from .runtime import BLOCKS_PER_SM, CudaUnavailableError, DeviceBuffer, StreamTimer, cublas_ok


class Program:
    def __init__(self, executable, device):
        self.exe = executable
        self.device = device
        drv = device.drv
        plan = executable.plan
        major, minor = device.compute_capability
        if major * 10 + minor < executable.arch:
            raise CudaUnavailableError(
                f"{executable.module.name} was compiled for sm_{executable.arch} but "
                f"{device.name} is sm_{major}{minor}; set JITCORE_CUDA_ARCH=sm_{major}{minor}")
        self.max_blocks = max(1, device.sm_count * BLOCKS_PER_SM)
        # id(step) -> plan.cost.StepInfo (profiling; filled by calls, which hold the device)
        self.step_infos = {}
        self.params = [b for b in plan.buffers if b.kind == "param"]
        self.fresh_outputs = [b for b in plan.buffers if b.kind == "output" and b.alias is None]
        self.temps = [b for b in plan.buffers if b.kind == "temp"]
        with device.active():
            self.module = drv.module_from_buffer(executable.ptx.encode())
            cublas = device.cublas()
            self.launches = {}   # id(step) -> (function, kernel, second function, scratch)
            self.gemms = {}      # id(step) -> gemm layout, for dots cuBLAS computes
            self.owned = []      # (size class, block) kept for the program's life
            for step_id, (step, kernel) in executable.kernels.items():
                if step.kind == "dot" and cublas is not None and cublas_ok(step.instr):
                    from ..plan.kernel_shapes import gemm_layout
                    self.gemms[step_id] = gemm_layout(step.instr)
                    continue
                fn = self.module.get_function(kernel.name)
                fn.prepare("P" * (len(step.inputs) + 1) + "qq")
                second = scratch = None
                if kernel.second is not None:
                    second = self.module.get_function(kernel.second.name)
                    second.prepare("PPqq")
                    scratch = self._keep(kernel.scratch_bytes)
                self.launches[step_id] = (fn, kernel, second, scratch)
            self.cublas = cublas if self.gemms else None
            self.constants = {}   # buffer id -> device pointer
            for b in plan.buffers:
                if b.kind == "const":
                    host = np.asarray(b.value, dtype=b.shape.dtype, order="C")
                    self.constants[b.id] = self._keep(host.nbytes)
                    if host.nbytes:
                        drv.memcpy_htod(self.constants[b.id], host)

    def _keep(self, nbytes):
        self.owned.append(self.device.allocator.alloc(nbytes))
        return int(self.owned[-1][1])

    def __del__(self):
        try:
            for size, block in self.owned:
                self.device.allocator.release(size, block)
        except Exception:
            pass   # a finalizer must not raise (at exit the allocator may already be gone)

    # -- a call ---------------------------------------------------------------------------

    def __call__(self, args):
        dev = self.device
        drv, stream, alloc = dev.drv, dev.stream, dev.allocator
        plan = self.exe.plan
        ptrs = [0] * len(plan.buffers)
        host = {}          # buffer id -> a host copy (uploaded arguments, constants, host results)
        blocks = {}        # buffer id -> (size class, block) this call allocated for it
        resident = {}      # buffer id -> the DeviceBuffer of an argument already on the device
        scratch = []
        timed = profile_hooks.on and profile_hooks.timing_wanted()
        with dev.active():
            timer = StreamTimer(drv, stream, dev.ordinal) if timed else None
            try:
                for bid, ptr in self.constants.items():
                    ptrs[bid] = ptr
                    host[bid] = plan.buffers[bid].value
                for b in self.params:
                    a = args[b.index]
                    buf = getattr(a, "_buf", None)
                    if buf is not None and buf.device is dev and buf.block is not None:
                        resident[b.id] = buf
                        ptrs[b.id] = buf.ptr
                        continue
                    a = np.asarray(a, dtype=b.shape.dtype, order="C")   # keeps 0-d shapes
                    blocks[b.id] = alloc.alloc(a.nbytes)
                    ptrs[b.id] = int(blocks[b.id][1])
                    if a.nbytes:
                        drv.memcpy_htod_async(ptrs[b.id], a, stream)
                    host[b.id] = a
                for b in self.fresh_outputs:
                    blocks[b.id] = alloc.alloc(b.nbytes)
                    ptrs[b.id] = int(blocks[b.id][1])
                for b in plan.buffers:
                    if b.kind == "output" and b.alias is not None:
                        ptrs[b.id] = ptrs[b.alias]
                if plan.workspace_bytes:
                    scratch.append(alloc.alloc(plan.workspace_bytes))
                    base = int(scratch[-1][1])
                    for b in self.temps:
                        ptrs[b.id] = base + b.offset
                self._run(plan.steps, ptrs, host, timer)
                results = self._results(ptrs, blocks, resident)
                if timer is not None:
                    timer.finish(self.exe.module.name, self.step_infos)
            finally:
                for size, block in list(blocks.values()) + scratch:
                    alloc.release(size, block)
        return results

    def _results(self, ptrs, blocks, resident):
        """A DeviceBuffer per output; takes the call's blocks it hands out out of `blocks`."""
        dev = self.device
        plan = self.exe.plan
        out, seen = [], set()
        for bid in plan.outputs:
            b = plan.buffers[bid]
            dims, dtype = b.shape.dims, b.shape.dtype
            if b.kind == "output" and bid not in seen:
                if b.alias is None:
                    size, block = blocks.pop(bid)
                elif b.alias in resident:
                    size, block = resident[b.alias].take()
                else:
                    size, block = blocks.pop(b.alias)
            else:
                size, block = dev.allocator.alloc(b.nbytes)
                if b.nbytes:
                    dev.drv.memcpy_dtod_async(int(block), ptrs[bid], b.nbytes, dev.stream)
            seen.add(bid)
            out.append(DeviceBuffer(dev, size, block, dims, dtype))
        return out

    # -- steps ----------------------------------------------------------------------------

    def _run(self, steps, ptrs, host, timer=None):
        """`host`: host copies of buffers, kept across the steps (None inside control flow,
        where slots point at different memory on each iteration). `timer`: a `StreamTimer`
        recording each step (while profiling; a loop or branch is one step)."""
        for step in steps:
            if timer is not None:
                mark = timer.start()
                self._run([step], ptrs, host)
                timer.stop(step, mark)
                continue
            kind = step.kind
            if kind in ("kernel", "dot", "scatter"):
                self._launch(step, ptrs)
            elif kind == "copy":
                self._copy(ptrs[step.outputs[0]], ptrs[step.inputs[0]], step.outputs[0])
            elif kind == "control":
                getattr(self, "_" + step.instr.opcode)(step, ptrs)
            else:
                self._host_step(step, ptrs, {} if host is None else host)

    def _launch(self, step, ptrs):
        gemm = self.gemms.get(id(step))
        if gemm is not None:
            a, b = step.inputs
            self.cublas.gemm(step.instr.shape.dtype, gemm, ptrs[a], ptrs[b],
                             ptrs[step.outputs[0]])
            return
        fn, kernel, second, scratch = self.launches[id(step)]
        grid = kernel.grid(self.max_blocks)
        if grid == 0:
            return
        stream = self.device.stream
        ins = [ptrs[i] for i in step.inputs]
        out = ptrs[step.outputs[0]]
        if second is None:
            fn.prepared_async_call((grid, 1), (kernel.block, 1, 1), stream,
                                   *ins, out, 0, kernel.extent)
            return
        fn.prepared_async_call((grid, 1), (kernel.block, 1, 1), stream,
                               *ins, scratch, 0, kernel.extent)
        k2 = kernel.second
        second.prepared_async_call((k2.grid(self.max_blocks), 1), (k2.block, 1, 1), stream,
                                   scratch, out, 0, k2.extent)

    def _copy(self, dst, src, bid):
        nbytes = self.exe.plan.buffers[bid].nbytes
        if nbytes and dst != src:
            self.device.drv.memcpy_dtod_async(dst, src, nbytes, self.device.stream)

    def _read(self, ptr, bid):
        """A buffer's value on the host (a while's predicate, a cond's index)."""
        b = self.exe.plan.buffers[bid]
        out = np.empty(b.shape.dims, b.shape.dtype)
        if out.nbytes:
            self.device.drv.memcpy_dtoh_async(out, ptr, self.device.stream)
            self.device.stream.synchronize()
        return out

    def _host_step(self, step, ptrs, host):
        """Run `step` with NumPy: operands come to the host, results go back."""
        drv, stream = self.device.drv, self.device.stream
        plan = self.exe.plan
        operands = []
        for bid in step.inputs:
            a = host.get(bid)
            if a is None:
                b = plan.buffers[bid]
                a = np.empty(b.shape.dims, b.shape.dtype)
                if a.nbytes:
                    drv.memcpy_dtoh_async(a, ptrs[bid], stream)
            operands.append(a)
        stream.synchronize()
        instr = step.instr
        with np.errstate(all="ignore"):
            if instr.called:
                res = _host_runner(step)(*operands)
            else:
                res = PRIMITIVES[instr.opcode].impl(*operands, **instr.attrs)
        res = res if isinstance(res, tuple) else (res,)
        for bid, r in zip(step.outputs, res):
            b = plan.buffers[bid]
            r = np.ascontiguousarray(np.asarray(r), dtype=b.shape.dtype).reshape(b.shape.dims)
            host[bid] = r
            if r.nbytes:
                drv.memcpy_htod_async(ptrs[bid], r, stream)

    # -- control flow, driven from the host (see plan.control for the sub-plans) ------------

    def _start_carries(self, step, ptrs, n):
        """A (the results) = the initial carry; returns (A pointers, B pointers)."""
        a = [ptrs[bid] for bid in step.outputs[:n]]
        b = [ptrs[bid] for bid in step.scratch_carries]
        for k in range(n):
            self._copy(a[k], ptrs[step.inputs[k]], step.outputs[k])
        return a, b

    def _finish_carries(self, step, odd, a, b):
        if odd:   # the last iteration wrote B
            for k in range(len(a)):
                self._copy(a[k], b[k], step.outputs[k])

    def _while(self, step, ptrs):
        cond, body = step.subs
        n = step.instr.attrs["num_carry"]
        a, b = self._start_carries(step, ptrs, n)
        for sub in (cond, body):
            for j, bid in enumerate(step.inputs[n:]):
                ptrs[sub.params[n + j]] = ptrs[bid]
        odd = False
        while True:
            cur, nxt = (b, a) if odd else (a, b)
            for k in range(n):
                ptrs[cond.params[k]] = cur[k]
            self._run(cond.steps, ptrs, None)
            pred = cond.results[0]
            if not self._read(ptrs[pred], pred):
                break
            for k in range(n):
                ptrs[body.params[k]] = cur[k]
                ptrs[body.results[k]] = nxt[k]
            self._run(body.steps, ptrs, None)
            odd = not odd
        self._finish_carries(step, odd, a, b)

    def _scan(self, step, ptrs):
        (body,) = step.subs
        at = step.instr.attrs
        n, m, length, reverse = at["num_carry"], at["num_xs"], at["length"], at["reverse"]
        plan = self.exe.plan
        xs, ys = step.inputs[n:n + m], step.outputs[n:]
        a, b = self._start_carries(step, ptrs, n)
        for j, bid in enumerate(step.inputs[n + m:]):
            ptrs[body.params[n + m + j]] = ptrs[bid]
        if length == 0:
            return
        x_steps = [plan.buffers[bid].nbytes // length for bid in xs]
        y_steps = [plan.buffers[bid].nbytes // length for bid in ys]
        x_base = [ptrs[bid] for bid in xs]
        y_base = [ptrs[bid] for bid in ys]
        odd = False
        for t in range(length):
            idx = length - 1 - t if reverse else t
            cur, nxt = (b, a) if odd else (a, b)
            for k in range(n):
                ptrs[body.params[k]] = cur[k]
                ptrs[body.results[k]] = nxt[k]
            for j in range(m):
                ptrs[body.params[n + j]] = x_base[j] + idx * x_steps[j]
            for j in range(len(ys)):
                ptrs[body.results[n + j]] = y_base[j] + idx * y_steps[j]
            self._run(body.steps, ptrs, None)
            odd = not odd
        self._finish_carries(step, odd, a, b)

    def _cond(self, step, ptrs):
        from ...control_flow import clamp_index
        index = self._read(ptrs[step.inputs[0]], step.inputs[0])
        sub = step.subs[clamp_index(index, len(step.subs))]
        for j, bid in enumerate(step.inputs[1:]):
            ptrs[sub.params[j]] = ptrs[bid]
        for k, bid in enumerate(step.outputs):
            ptrs[sub.results[k]] = ptrs[bid]
        self._run(sub.steps, ptrs, None)


def _host_runner(step):
    """Instructions with called computations run their bodies with the interpreter."""
    run = getattr(step, "runner", None)
    if run is None:
        from ...control_flow import interp_runner
        from ..interp import compile_computation
        run = step.runner = interp_runner(step.instr, compile_computation)
    return run
