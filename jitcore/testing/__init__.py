"""Tools for testing backends against the reference interpreter.

`random_programs` draws random, seeded programs (elementwise math on edge values, reductions,
data movement, control flow) with error bounds for each result; `differential` runs them on
the CPU backend and on the interpreter (and under `grad` and `vmap`) and compares. The test
suite and `benchmarks/fuzz.py` both use them.
"""
