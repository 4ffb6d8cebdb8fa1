"""Passes: plain functions `Module -> Module`, one per file, each saying what it guarantees.

- `simplify`: local algebraic simplification and scalar constant folding (also applied by the
  builder as IR is emitted), then dead code removal.
- `dce`: drop instructions no output depends on.
- `masking`: make a bucketed trace exact for every true size of its bucket.
- `inline`, `cse`, `licm`: inline custom-derivative calls, merge equal instructions, hoist
  loop-invariant code.
- `layout`: fold transposes and reshapes into their consumers (dots, reductions, each other).
- `fusion.fuse`: group instructions into kernels.
- `buffer_assignment`: workspace offsets by liveness (the backends' planning, not a pipeline).
- `jvp.jvp_module`, `vjp.vjp_module`, `batching.batch_module`: the transforms, as passes.

Which of them run, in which order, is listed in one place: `xla_like.pipeline` (the trace-time,
bucketed and kernel-time pipelines, and the runner that reports and checks each pass).
"""
