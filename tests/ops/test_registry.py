"""Every registered primitive has its rules and its tests, so adding one without either fails CI.

The tests are the tables of `test_primitives.py`: at least one value case (checked against an
independent reference, eagerly and under jit) and one error case (its shape rule rejecting a
bad operand) per primitive.
"""
from __future__ import annotations

import pytest

import ops  # noqa: F401  (registers every primitive family)
from ops.core import PRIMITIVES
from tests.ops.test_primitives import ERROR_CASES, VALUE_CASES

# Rules every primitive must define. The kernel rule joins this tuple when the compiled
# backends land.
REQUIRED_RULES = ("abstract_eval", "impl", "jvp", "vjp", "batch")

# Call-like primitives run sub-computations, so their rules need the IR: `xla_like` registers
# them on the primitive as `call_rules` (`custom_calls.py`, `control_flow_rules.py`);
# tests/test_custom_derivatives.py and tests/test_control_flow*.py exercise them.
CALL_LIKE = sorted(n for n, p in PRIMITIVES.items() if getattr(p, "call_like", False))
NAMES = sorted(n for n in PRIMITIVES if n not in CALL_LIKE)
# Primitives that accept every array, so no bad operand exists to test their shape rule with.
ACCEPTS_ANYTHING = {"stop_gradient", "optimization_barrier"}


def test_registry_is_populated():
    assert len(NAMES) > 50
    for name, prim in PRIMITIVES.items():
        assert prim.name == name


@pytest.mark.parametrize("name", NAMES)
def test_primitive_has_its_rules(name):
    prim = PRIMITIVES[name]
    missing = [r for r in REQUIRED_RULES if not callable(getattr(prim, r, None))]
    assert not missing, f"primitive {name!r} lacks rules: {missing}"


@pytest.mark.parametrize("name", CALL_LIKE)
def test_call_like_primitive_has_its_rules(name):
    import xla_like  # noqa: F401  (registers the call-like primitives' rules)
    rules = getattr(PRIMITIVES[name], "call_rules", None)
    assert rules is not None, f"call-like primitive {name!r} has no call_rules"
    for r in ("eval", "jvp", "vjp", "batch", "interp"):
        assert callable(getattr(rules, r, None)), f"{name!r} lacks the {r} rule"


def test_differentiability_is_explicit():
    """A primitive either differentiates, or says it does not (prim.differentiable = False)."""
    nondiff = sorted(n for n in NAMES if getattr(PRIMITIVES[n], "differentiable", True) is False)
    for n in ("eq", "argmax", "iota", "and", "is_finite"):
        assert n in nondiff, f"{n} should be marked non-differentiable"
    for n in ("add", "exp", "dot_general", "reduce_max", "gather", "sort"):
        assert n not in nondiff, f"{n} should be differentiable"


# Collectives have values only under vmap(..., axis_name=): tests/test_collectives.py.
COLLECTIVE = {n for n, p in PRIMITIVES.items() if getattr(p, "collective", False)}


@pytest.mark.parametrize("name", sorted(set(NAMES) - COLLECTIVE))
def test_primitive_has_value_tests(name):
    covered = {c.prim for c in VALUE_CASES}
    assert name in covered, (
        f"primitive {name!r} has no value case in tests/ops/test_primitives.py's tables "
        "(tests/ops/primitive_cases_*.py): add one that compares it with a NumPy reference")


@pytest.mark.parametrize("name", sorted(set(NAMES) - ACCEPTS_ANYTHING))
def test_primitive_has_error_tests(name):
    covered = {c.prim for c in ERROR_CASES}
    assert name in covered, (
        f"primitive {name!r} has no error case in tests/ops/test_primitives.py's tables "
        "(tests/ops/primitive_cases_*.py): add one where its shape rule rejects a bad operand")


def test_tables_name_only_registered_primitives():
    unknown = {c.prim for c in VALUE_CASES + ERROR_CASES} - set(PRIMITIVES)
    assert not unknown, f"test cases for unregistered primitives: {sorted(unknown)}"
