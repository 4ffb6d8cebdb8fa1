"""Every registered primitive has its rules and its tests, so adding one without either fails CI.

The tests are the tables of `test_primitives.py`: at least one value case (checked against an
independent reference, eagerly and under jit) and one error case (its shape rule rejecting a
bad operand) per primitive.
"""
from __future__ import annotations

import os
import sys

import pytest

import ops  # noqa: F401  (registers every primitive family)
from ops.core import PRIMITIVES

if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_primitives import ERROR_CASES, VALUE_CASES  # noqa: E402

# Rules every primitive must define. Later families of rules (jvp, transpose, batching, the
# kernel rule) join this tuple when they land.
REQUIRED_RULES = ("abstract_eval", "impl")

NAMES = sorted(PRIMITIVES)


def test_registry_is_populated():
    assert len(NAMES) > 50
    for name, prim in PRIMITIVES.items():
        assert prim.name == name


@pytest.mark.parametrize("name", NAMES)
def test_primitive_has_its_rules(name):
    prim = PRIMITIVES[name]
    missing = [r for r in REQUIRED_RULES if not callable(getattr(prim, r, None))]
    assert not missing, f"primitive {name!r} lacks rules: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_primitive_has_value_tests(name):
    covered = {c.prim for c in VALUE_CASES}
    assert name in covered, (
        f"primitive {name!r} has no value case in tests/ops/test_primitives.py's tables "
        "(tests/ops/primitive_cases_*.py): add one that compares it with a NumPy reference")


@pytest.mark.parametrize("name", NAMES)
def test_primitive_has_error_tests(name):
    covered = {c.prim for c in ERROR_CASES}
    assert name in covered, (
        f"primitive {name!r} has no error case in tests/ops/test_primitives.py's tables "
        "(tests/ops/primitive_cases_*.py): add one where its shape rule rejects a bad operand")


def test_tables_name_only_registered_primitives():
    unknown = {c.prim for c in VALUE_CASES + ERROR_CASES} - set(PRIMITIVES)
    assert not unknown, f"test cases for unregistered primitives: {sorted(unknown)}"
