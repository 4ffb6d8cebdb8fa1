"""Symbolic sizes: the dimensions of a bucketed trace.

When `jit` compiles one specialization for every size of a bucket (say 33..64 rows), it traces
the function once with a `Dim` in place of each dynamic size. A `Dim` is an `int` whose value is
the bucket's capacity (64), so every shape rule, buffer size and loop written for ints keeps
working, and it also carries the exact size as a polynomial in the bucket's symbols (`n`,
`4*n`, `n + 3`, `n*m`). Shape rules that add, multiply or compare sizes therefore produce
`Dim`s again, and the IR built from them records which axes hold a true size smaller than
their capacity (`xla_like.passes.masking` reads exactly that).

Whenever an answer would depend on where the true size lies inside its bucket (`n < 40`,
`n // 3`, `n / 2`), the `Dim` raises `SizeDependentError` and `jit` falls back to an
exact-shape specialization. Uses Python cannot intercept on an `int` (`range(n)`, `len(x)`,
`np.prod`) are caught later, by tracing twice at two capacities and comparing the programs.
"""
from __future__ import annotations

import itertools

import numpy as np
from dataclasses import dataclass, field

from .errors import JitcoreError


class SizeDependentError(JitcoreError):
    """The traced program uses a dynamic size as a Python value; compile for exact shapes."""


@dataclass(eq=False)
class Symbol:
    """One dynamic size: its name for messages, the bucket's range lo..hi, and, while a
    function is traced, the traced scalar holding the true size."""
    name: str
    lo: int
    hi: int
    index: int
    tracer: object = field(default=None, repr=False)


class Poly:
    """A polynomial over symbols with integer coefficients: {monomial: coefficient}, a
    monomial being a sorted tuple of symbol indices (() is the constant term)."""

    __slots__ = ("terms",)

    def __init__(self, terms):
        self.terms = {m: c for m, c in terms.items() if c}

    @staticmethod
    def const(c):
        return Poly({(): int(c)})

    @staticmethod
    def of(x):
        return x.poly if isinstance(x, Dim) else Poly.const(x)

    def __add__(self, other):
        t = dict(self.terms)
        for m, c in other.terms.items():
            t[m] = t.get(m, 0) + c
        return Poly(t)

    def __neg__(self):
        return Poly({m: -c for m, c in self.terms.items()})

    def __sub__(self, other):
        return self + (-other)

    def __mul__(self, other):
        t = {}
        for (m1, c1), (m2, c2) in itertools.product(self.terms.items(), other.terms.items()):
            m = tuple(sorted(m1 + m2))
            t[m] = t.get(m, 0) + c1 * c2
        return Poly(t)

    def __eq__(self, other):
        return isinstance(other, Poly) and self.terms == other.terms

    def __hash__(self):
        return hash(frozenset(self.terms.items()))

    def is_const(self):
        return all(m == () for m in self.terms)

    def constant(self):
        return self.terms.get((), 0)

    def symbols(self):
        return sorted({s for m in self.terms for s in m})

    def evaluate(self, sizes):
        """The value for true sizes `sizes[symbol index]`."""
        total = 0
        for m, c in self.terms.items():
            v = c
            for s in m:
                v *= sizes[s]
            total += v
        return total

    def divide(self, k):
        """self / k when every coefficient is a multiple of k, else None."""
        if k and all(c % k == 0 for c in self.terms.values()):
            return Poly({m: c // k for m, c in self.terms.items()})
        return None

    def ratio(self, other):
        """The polynomial self / other when that is one (other divides every term the same
        way: (6n*m + 3m) / (2n + 1) = 3m), else None. Only monomial quotients are tried."""
        if not other.terms:
            return None
        (m0, c0), = list(other.terms.items())[:1]
        for m, c in self.terms.items():
            rest = list(m)
            try:
                for s in m0:
                    rest.remove(s)
            except ValueError:
                continue
            if c % c0 == 0:
                q = Poly({tuple(rest): c // c0})
                if q * other == self:
                    return q
            break
        return None

    def text(self, names):
        parts = []
        for m, c in sorted(self.terms.items(), key=lambda mc: (-len(mc[0]), mc[0])):
            sym = "*".join(names[s] for s in m)
            parts.append(str(c) if not sym else sym if c == 1 else f"{c}*{sym}")
        return " + ".join(parts).replace("+ -", "- ") or "0"


class SymbolTable:
    """The symbols of one bucketed trace; `capacity` picks the value `Dim`s carry."""

    def __init__(self, symbols=(), capacities=None):
        self.symbols: list[Symbol] = list(symbols)
        # The int value of each symbol's Dims: the bucket's upper end, or another size when
        # a second trace checks that the program does not depend on it.
        self.capacities = dict(capacities or {s.index: s.hi for s in self.symbols})

    def new(self, name, lo, hi):
        s = Symbol(name, lo, hi, len(self.symbols))
        self.symbols.append(s)
        self.capacities[s.index] = hi
        return s

    def dim(self, symbol):
        """The Dim of `symbol`, its int value the capacity this table traces at."""
        return Dim(self.capacities[symbol.index], Poly({(symbol.index,): 1}), self)

    def bounds(self, poly):
        """(min, max) of `poly` over the buckets' ranges: its value at the corners, exact for
        polynomials of degree one in each size and for those with no negative coefficient
        (every one shape rules build); others get an unbounded range (no question about
        them is answered)."""
        if any(len(set(m)) < len(m) for m in poly.terms) and \
                any(c < 0 for c in poly.terms.values()):
            return -float("inf"), float("inf")
        syms = poly.symbols()
        vals = [poly.evaluate({s: v for s, v in zip(syms, corner)})
                for corner in itertools.product(*[(self.symbols[s].lo, self.symbols[s].hi)
                                                  for s in syms])]
        return min(vals), max(vals)

    def names(self):
        return [s.name for s in self.symbols]


def _raise(what, a, b=None):
    names = a.table.names()
    text = a.poly.text(names) if b is None else \
        f"{a.poly.text(names)} and {Poly.of(b).text(names) if isinstance(b, Dim) else b}"
    raise SizeDependentError(f"the traced function {what} the dynamic size {text}")


class Dim(int):
    """A dynamic size: an int (the bucket's capacity) that knows its exact polynomial."""

    def __new__(cls, value, poly, table):
        self = super().__new__(cls, value)
        self.poly = poly
        self.table = table
        return self

    # -- arithmetic: sizes stay symbolic ---------------------------------------------------

    def _make(self, poly):
        if poly.is_const():
            return poly.constant()
        return Dim(poly.evaluate(self.table.capacities), poly, self.table)

    def _other(self, other):
        if isinstance(other, Dim):
            return other.poly
        if isinstance(other, (int, np.integer)) and not isinstance(other, (bool, np.bool_)):
            return Poly.const(int(other))
        return None

    def __add__(self, other):
        p = self._other(other)
        return NotImplemented if p is None else self._make(self.poly + p)

    __radd__ = __add__

    def __sub__(self, other):
        p = self._other(other)
        return NotImplemented if p is None else self._make(self.poly - p)

    def __rsub__(self, other):
        p = self._other(other)
        return NotImplemented if p is None else self._make(p - self.poly)

    def __mul__(self, other):
        p = self._other(other)
        return NotImplemented if p is None else self._make(self.poly * p)

    __rmul__ = __mul__

    def __neg__(self):
        return self._make(-self.poly)

    def __pos__(self):
        return self

    def __abs__(self):
        lo, _ = self.table.bounds(self.poly)
        if lo >= 0:
            return self
        _raise("takes the absolute value", self)

    def _quotient(self, other, what):
        """self / other as a polynomial when it divides exactly for every size, else raise."""
        q = self.poly.ratio(other.poly) if isinstance(other, Dim) else self.poly.divide(other)
        if q is None:
            _raise(what, self, other)
        return q

    def __floordiv__(self, other):
        if not isinstance(other, int):
            return NotImplemented
        return self._make(self._quotient(other, "divides"))

    def __mod__(self, other):
        if not isinstance(other, int):
            return NotImplemented
        self._quotient(other, "takes a remainder")
        return 0

    def __rfloordiv__(self, other):
        # A plain int divided by a size: exact only when it is a multiple of the whole size.
        if isinstance(other, int) and other == 0:
            return 0
        _raise("divides by", self, other)

    def __rmod__(self, other):
        _raise("takes a remainder by", self, other)

    def __truediv__(self, other):
        _raise("divides", self, other)

    def __rtruediv__(self, other):
        _raise("divides by", self, other)

    def __pow__(self, other, mod=None):
        if isinstance(other, int) and not isinstance(other, Dim) and 0 <= other <= 4 \
                and mod is None:
            out = 1
            for _ in range(other):
                out = out * self
            return out
        _raise("raises to a power", self, other)

    def __rpow__(self, other):
        _raise("uses as an exponent", self, other)

    def __divmod__(self, other):
        return self // other, self % other

    def __and__(self, other):
        _raise("takes bits", self, other)

    __or__ = __xor__ = __rand__ = __ror__ = __rxor__ = __lshift__ = __rshift__ = __and__

    def __float__(self):
        _raise("converts to float", self)

    def __bool__(self):
        return self != 0

    # -- comparisons: answered only when the whole bucket agrees ----------------------------

    def _compare(self, other, op, what):
        p = self._other(other)
        if p is not None:
            d = self.poly - p
            if d.is_const():
                return op(d.constant(), 0)
            lo, hi = self.table.bounds(d)
        elif isinstance(other, (float, np.floating)):
            # n > 10.5: compared over the bucket like an int, never by the capacity's value.
            lo, hi = self.table.bounds(self.poly)
            lo, hi = lo - float(other), hi - float(other)
        else:
            return NotImplemented
        if lo == hi:
            return lo == 0 if what == "==" else op(lo, 0)   # one value over the bucket
        if what == "==":
            if lo > 0 or hi < 0:
                return False          # never zero over the bucket
        elif op(lo, 0) == op(hi, 0):
            # An order: monotone in each size, so the extremes agreeing means all sizes do.
            return op(lo, 0)
        _raise(f"compares ({what})", self, other)

    def __eq__(self, other):
        if isinstance(other, Dim) and other.table is not self.table:
            return NotImplemented
        return self._compare(other, lambda a, b: a == b, "==")

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b, "<")

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b, "<=")

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b, ">")

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b, ">=")

    def __hash__(self):
        return hash(("Dim", self.poly))

    def __repr__(self):
        return int.__repr__(self)

    __str__ = __repr__

    def __format__(self, spec):
        return format(int(self), spec)

    def text(self):
        return self.poly.text(self.table.names())

    def __reduce__(self):
        return int, (int(self),)


def plain(x):
    """`x` with every Dim replaced by its int value (recursing through tuples/lists/dicts)."""
    t = type(x)
    if t is Dim:
        return int(x)
    if t is tuple or t is list:
        if any(type(v) is Dim or type(v) in (tuple, list, dict) for v in x):
            return t(plain(v) for v in x)
        return x
    if t is dict:
        return {k: plain(v) for k, v in x.items()}
    return x


def has_dim(x) -> bool:
    t = type(x)
    if t is Dim:
        return True
    if t is tuple or t is list:
        return any(has_dim(v) for v in x)
    if t is dict:
        return any(has_dim(v) for v in x.values())
    return False
