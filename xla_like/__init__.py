"""The IR (`ir`), its builder, printer, parser and verifier, the passes and the backends."""

from . import custom_calls  # noqa: F401,E402  (registers the call-like opcodes' rules)
from . import control_flow_rules  # noqa: F401,E402  (cond, while, scan)
