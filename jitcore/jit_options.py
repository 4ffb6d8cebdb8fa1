"""`jit`'s options checked against the function they are given, when `jit` is called.

A position past the function's parameters, a name it does not have, an option of the wrong
type: each is an error at the line that called `jit`, rather than an option silently ignored
at every later call. A function whose signature `inspect` cannot read (some builtins) is
taken at its word.
"""
from __future__ import annotations

import difflib
import inspect
import operator

import numpy as np

from ops.errors import InvalidArgumentError, InvalidOptionError


def _position(v):
    """`v` as an int when it is one; None otherwise (a bool is a flag, not a position)."""
    if isinstance(v, (bool, np.bool_)):
        return None
    try:
        return operator.index(v)
    except TypeError:
        return None


def normalize_argnums(argnums, what, fun_name):
    """`argnums` (None, an int or a sequence of ints) as a tuple of ints."""
    if argnums is None:
        return ()
    if _position(argnums) is not None:
        return (_position(argnums),)
    try:
        items = None if isinstance(argnums, (str, bytes)) else list(argnums)
    except TypeError:
        items = None
    nums = None if items is None else [_position(a) for a in items]
    if nums is None or None in nums:
        raise InvalidArgumentError(
            f"jit({fun_name}): {what} must be an argument position (an int) or a sequence of "
            f"them, got {argnums!r:.60}",
            hint="name arguments with static_argnames=..." if what == "static_argnums" and
            isinstance(argnums, str) else None)
    return tuple(nums)


def normalize_argnames(argnames, fun_name):
    if argnames is None:
        return ()
    if isinstance(argnames, str):
        return (argnames,)
    try:
        names = tuple(argnames)
    except TypeError:
        names = None
    if names is None or not all(isinstance(n, str) for n in names):
        raise InvalidArgumentError(
            f"jit({fun_name}): static_argnames must be a parameter name or a sequence of "
            f"them, got {argnames!r:.60}", hint="give positions with static_argnums=...")
    return names


class Params:
    """What `fun`'s signature says about the arguments jit's options may name; `known` is
    False when it has none inspect can read (some builtins), and nothing is checked."""

    def __init__(self, fun):
        try:
            params = list(inspect.signature(fun).parameters.values())
            self.known = True
        except (TypeError, ValueError):
            params, self.known = [], False
        self.positional = [p.name for p in params
                           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self.var_positional = any(p.kind is p.VAR_POSITIONAL for p in params)
        self.var_keyword = any(p.kind is p.VAR_KEYWORD for p in params)

    def positions(self, nums, what, fun_name):
        """`nums` with negative positions counted from the end of the positional parameters,
        each checked to be one of them (any position >= 0 fits a function with *args)."""
        n = len(self.positional)
        if not self.known:
            return tuple(a + n if a < 0 and n else a for a in nums)
        out = []
        for a in nums:
            if a < 0 and self.var_positional:
                raise InvalidOptionError(
                    f"jit({fun_name}): {what} has the negative position {a}, but {fun_name} "
                    "takes *args, so the number of positional arguments is not fixed",
                    hint="count positions from 0")
            k = a + n if a < 0 else a
            if k < 0 or (k >= n and not self.var_positional):
                takes = f"{n} positional argument{'s' * (n != 1)}" + \
                    (f" ({', '.join(self.positional)})" if n else "")
                raise InvalidOptionError(
                    f"jit({fun_name}): {what} names position {a}, but {fun_name} takes {takes}")
            out.append(k)
        return tuple(out)

    def check_names(self, names, what, fun_name):
        if not self.known or self.var_keyword:
            return
        for nm in names:
            if nm not in self.names:
                raise InvalidOptionError(
                    f"jit({fun_name}): {what} names {nm!r}, which is not a parameter of "
                    f"{fun_name} (its parameters: {', '.join(self.names) or 'none'})",
                    hint=_did_you_mean(nm, self.names))


def _did_you_mean(name, names):
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {close[0]!r}?" if close else None
