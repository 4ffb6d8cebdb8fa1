"""Call-like primitives that the compiler introduces.

`fusion(inputs...)`, calls=(body,): the instructions of `body`, computed as one kernel. Only the
fusion pass creates it; it evaluates and differentiates like its body (its rules are in
`xla_like.custom_calls`, keyed by opcode, since they need the sub-computation).
"""
from __future__ import annotations

from .core import Primitive

fusion_p = Primitive("fusion", "calls")
fusion_p.call_like = True
fusion_p.lowering = "calls"
