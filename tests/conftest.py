"""Suite-wide test plumbing.

Every Module that tracing finishes (the jit/tracing code calls `xla_like.ir.module_built`) is
verified, printed in full, parsed back and compared with the original, inside the test that built
it: so any test that builds IR also tests the verifier's invariants and the printer/parser round
trip on that IR, and a module that breaks either fails that test, not a later one.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# The persistent compilation cache of a test run (and of the subprocesses it starts) lives in a
# fresh folder, removed at exit: tests never read or write the user's cache.
_CACHE_DIR = tempfile.mkdtemp(prefix="jitcore-test-cache-")
os.environ["JITCORE_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, True)

# Imported only now, so that no setting is read before the cache folder above is in place.
from ops.errors import IRParseError  # noqa: E402
from xla_like import ir  # noqa: E402
from xla_like.ir_compare import assert_modules_equal  # noqa: E402
from xla_like.parser import parse_module  # noqa: E402
from xla_like.printer import module_to_text  # noqa: E402
from xla_like.verifier import verify_module  # noqa: E402

# Enough of the module text to see the problem without flooding the report.
_MAX_TEXT = 20000


def check_built_module(module: ir.Module) -> None:
    """Verify `module`, then print, parse and compare; raise AssertionError on a round-trip miss."""
    verify_module(module)
    text = module_to_text(module, print_large_constants=True)
    try:
        parsed = parse_module(text)
        assert_modules_equal(module, parsed)
        again = module_to_text(parsed, print_large_constants=True)
        assert again == text, "printing the parsed module gives different text"
    except (IRParseError, AssertionError) as e:
        shown = text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "\n... (cut)"
        raise AssertionError(f"IR print/parse round trip failed for module {module.name}: "
                             f"{e}\n--- module text ---\n{shown}") from e


@pytest.fixture(autouse=True, scope="session")
def _check_every_built_module():
    ir.ON_MODULE_BUILT.append(check_built_module)
    yield
    ir.ON_MODULE_BUILT.remove(check_built_module)
