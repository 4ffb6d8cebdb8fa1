"""What runs on a Dask worker: the tasks `map`, `data_parallel` and `sweep` submit.

A task gets a `Shipment` (a Dask dependency, so each worker fetches it once): the user's
function pickled by the driver (cloudpickle, as Dask pickles any task function) under a token,
and the code bundles to install. The worker unpickles the function once per token and keeps it
(bounded), so its jit cache lives across tasks: a worker traces each signature once and loads
its code from the installed files.

An exception raised by the user's code travels as a `RemoteError` (its class, message and
attributes, and the worker's traceback), which the driver turns back into the original
exception: a jitcore error keeps its message, which ends with the user's line, and gains a
note naming the worker and the task.
"""
from __future__ import annotations

import collections
import threading
import traceback

import numpy as np

from . import shipping

_lock = threading.Lock()
_functions: "collections.OrderedDict" = collections.OrderedDict()   # token: function
_MAX_FUNCTIONS = 64


class Shipment:
    """A function for the workers (cloudpickled `blob`, known by `token`) and the Bundles of
    its compiled code."""

    __slots__ = ("token", "blob", "bundles")

    def __init__(self, token, blob, bundles=()):
        self.token = token
        self.blob = blob
        self.bundles = tuple(b for b in bundles if b is not None)

    def __reduce__(self):
        return (Shipment, (self.token, self.blob, self.bundles))


def hold(shipment):
    """The task whose result is the shipment: tasks depending on it fetch it once per worker,
    and Dask recomputes it if its worker dies."""
    return shipment


def _function(shipment):
    with _lock:
        fn = _functions.get(shipment.token)
        if fn is not None:
            _functions.move_to_end(shipment.token)
            return fn
    import cloudpickle
    fn = cloudpickle.loads(shipment.blob)
    with _lock:
        fn = _functions.setdefault(shipment.token, fn)
        while len(_functions) > _MAX_FUNCTIONS:
            _functions.popitem(last=False)
    return fn


def to_numpy(tree):
    """`tree` with its jitcore arrays as NumPy arrays (what travels back)."""
    from jitcore import tree_util
    from jitcore.array import Array
    return tree_util.tree_map(lambda x: np.asarray(x) if isinstance(x, Array) else x, tree)


def run(shipment, args, where="", scale=None):
    """Call the shipped function on `args`; its result with NumPy arrays (times `scale`,
    when given). `where` names the task in errors."""
    shipping.ensure_installed(shipment.bundles)
    fn = _function(shipment)
    shipping.count_task()
    try:
        out = fn(*args)
    except Exception as e:
        raise RemoteError.wrap(e, where) from None
    out = to_numpy(out)
    if scale is not None:
        from jitcore import tree_util
        out = tree_util.tree_map(lambda x: np.asarray(x) * np.asarray(scale, np.asarray(x).dtype),
                                 out)
    return out


def run_recorded(shipment, args, where=""):
    """`run`, and the Bundle of the code the call compiled or loaded on this worker (None when
    it found everything in memory): the first config of a sweep, whose code the others get."""
    transfer = shipping.cache_transfer
    with transfer.recording() as keys:
        out = run(shipment, args, where)
    files = [(k, d) for k, d in ((k, transfer.read_file(k)) for k in keys) if d is not None]
    return out, shipping.Bundle(transfer.cpu_tag(), files) if files else None


def add(a, b):
    """The sum of two pytrees of arrays (a step of the tree reduction)."""
    from jitcore import tree_util
    return tree_util.tree_map(np.add, a, b)


def stats():
    return shipping.process_stats()


class RemoteError(Exception):
    """An exception raised on a worker, carried to the driver (see `rebuild`)."""

    def __init__(self, cls, message, attrs, where, trace):
        super().__init__(f"{getattr(cls, '__name__', cls)}: {message}")
        self.cls, self.message, self.attrs = cls, message, attrs
        self.where, self.trace = where, trace

    def __reduce__(self):
        return (RemoteError, (self.cls, self.message, self.attrs, self.where, self.trace))

    @classmethod
    def wrap(cls, e, where):
        import os
        import pickle
        import socket
        kind = type(e)
        try:    # a class the driver can import (not one defined in a worker's __main__)
            if kind.__module__ == "__main__" or pickle.loads(pickle.dumps(kind)) is not kind:
                kind = kind.__qualname__
        except Exception:
            kind = kind.__qualname__
        attrs = {}
        for k, v in getattr(e, "__dict__", {}).items():
            if isinstance(v, (str, int, float, bool, type(None))):
                attrs[k] = v
        trace = "".join(traceback.format_tb(e.__traceback__))   # the message is the error's
        place = f"worker {socket.gethostname()} (pid {os.getpid()})"
        return cls(kind, str(e), attrs, f"{where} on {place}" if where else place, trace)

    def rebuild(self):
        """The original exception (its class, message and simple attributes), with a note
        saying where it was raised and the worker's traceback."""
        err = None
        if isinstance(self.cls, type) and issubclass(self.cls, BaseException):
            try:
                err = self.cls.__new__(self.cls)
                BaseException.__init__(err, self.message)
                for k, v in self.attrs.items():
                    setattr(err, k, v)
            except Exception:
                err = None
        if err is None:
            err = RuntimeError(f"{self.cls}: {self.message}")
        err.add_note(f"raised in {self.where}; the worker's traceback:\n{self.trace.rstrip()}")
        return err
