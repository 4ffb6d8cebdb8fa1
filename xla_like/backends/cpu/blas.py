"""jitcore's own OpenBLAS, loaded with the best kernels for this host.

NumPy's bundled OpenBLAS picks its kernels ("core type") once, when the library loads, from
`OPENBLAS_CORETYPE` if that is set and from CPUID otherwise; an environment that pins
`OPENBLAS_CORETYPE=Haswell` keeps AVX-512 hosts on AVX2 kernels. jitcore therefore loads a
separate copy, the `scipy-openblas64` wheel (or `scipy-openblas32`), whose symbols carry a
`scipy_` prefix and so never clash with NumPy's, and sets `OPENBLAS_CORETYPE` only for the
duration of that `dlopen`.

Core type, decided once per process by `load()`:

* `JITCORE_BLAS_CORETYPE=<name>` forces an OpenBLAS core name (`SkylakeX`, `Haswell`,
  `Sandybridge`, ...); `JITCORE_BLAS_CORETYPE=auto` lets OpenBLAS detect the CPU itself, ignoring
  `OPENBLAS_CORETYPE`. Forcing a core whose instructions the host lacks crashes with SIGILL, and
  a name this build does not know falls back to detection: `Blas.corename` says what ran.
* otherwise from the host's features as LLVM sees them (`llvmlite`): AVX-512 F+VL+BW+DQ ->
  `SkylakeX`, AVX2+FMA -> `Haswell`, anything else -> OpenBLAS's own detection.

The wheels are built with a reduced DYNAMIC_ARCH list (Prescott, Nehalem, Sandybridge, Haswell,
SkylakeX): `Zen` runs the Haswell kernels and `Cooperlake`/`SapphireRapids` the SkylakeX ones, so
SkylakeX and Haswell are the names that say what actually runs.

Native code calls `Blas.address("sgemm")` / `Blas.address("dgemm")` directly (see `address` for
the C signature); `Blas.gemm` is the NumPy-level convenience used by tests and fallback paths.
The same library holds LAPACK: `Blas.lapack_address("dgetrf")` hands out a Fortran routine (and
`"cblas_dtrsm"` a CBLAS one) for native code, `Blas.lapack_function` the same for ctypes calls
(workspace queries at compile time); see `cpu.lapack`.
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import threading
import warnings

import numpy as np

from ...settings import ENV, settings

_SETTING = ENV["blas_coretype"]    # named in the reasons `choose_coretype` gives

# CBLAS enum values (cblas.h): the generated code passes these as i32.
ROW_MAJOR = 101
COL_MAJOR = 102
NO_TRANS = 111
TRANS = 112

AVX512_CORE = "SkylakeX"
AVX2_CORE = "Haswell"

# (package, symbol suffix, integer bits), in order of preference: ILP64 first, since its sgemm is
# as fast as the LP64 build's and it takes dimensions beyond 2**31.
_BUILDS = (("scipy_openblas64", "64_", 64), ("scipy_openblas32", "", 32))

# CBLAS entry points that `address` hands out, by short name.
_ENTRIES = {"sgemm": ("cblas_sgemm", np.float32), "dgemm": ("cblas_dgemm", np.float64)}

_AVX512_NEEDED = ("avx512f", "avx512vl", "avx512bw", "avx512dq")


class BlasUnavailableError(RuntimeError):
    """jitcore's BLAS could not be found or loaded; callers should fall back (see `available`)."""


def host_cpu_features() -> dict | None:
    """The host CPU's features as LLVM reports them, or None where llvmlite cannot tell."""
    try:
        import llvmlite.binding as llvm

        return {name: bool(on) for name, on in llvm.get_host_cpu_features().items()}
    except Exception:  # any failure here just means "unknown": OpenBLAS then detects by itself
        return None


def choose_coretype(features: dict | None = None,
                    requested: str | None = None) -> tuple[str | None, str]:
    """(OpenBLAS core name to force or None for OpenBLAS's own detection, why). `requested`:
    the `blas_coretype` setting's form (default: the setting)."""
    requested = (settings.blas_coretype if requested is None else requested).strip()
    if requested:
        if requested.lower() == "auto":
            return None, f"{_SETTING}=auto: OpenBLAS's own CPU detection"
        return requested, f"{_SETTING}={requested}"
    if features is None:
        features = host_cpu_features()
    if features is None:
        return None, "host CPU features unknown (llvmlite): OpenBLAS's own CPU detection"
    if all(features.get(f) for f in _AVX512_NEEDED):
        return AVX512_CORE, "host has AVX-512 F/VL/BW/DQ"
    if features.get("avx2") and features.get("fma"):
        return AVX2_CORE, "host has AVX2+FMA"
    return None, "host has neither AVX-512 nor AVX2+FMA: OpenBLAS's own CPU detection"


def _find_library(package: str) -> str | None:
    # find_spec does not run the package's __init__, which would dlopen the library itself
    # (RTLD_GLOBAL, under whatever OPENBLAS_CORETYPE is set) before we can choose the core type.
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    libdir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    try:
        names = sorted(os.listdir(libdir))
    except OSError:
        return None
    for name in names:
        if "openblas" in name and name.endswith((".so", ".dylib", ".dll")):
            return os.path.join(libdir, name)
    return None


def _already_loaded(path: str) -> bool:
    noload = getattr(os, "RTLD_NOLOAD", None)
    if noload is None:
        return False
    try:
        ctypes.CDLL(path, mode=noload | getattr(os, "RTLD_LAZY", 1))
    except OSError:
        return False
    return True


_ENV_LOCK = threading.Lock()


# What this copy of OpenBLAS reads at load besides its core type. jitcore runs every GEMM on
# the threads of its own pool (`cpu.gemm`), each a one-thread call, so OpenBLAS starts no
# threads of its own; where it is given some (`Blas.threaded`, for LAPACK), they go to sleep
# right after their work (2**4 cycles of waiting) instead of busy-waiting for the next call
# (2**28 cycles by default, ~0.1 s a thread: CPU taken from whatever the process runs next).
_LOAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OPENBLAS_THREAD_TIMEOUT": "4"}


def _dlopen_with_coretype(path: str, coretype: str | None) -> ctypes.CDLL:
    # OpenBLAS's constructor reads OPENBLAS_CORETYPE (and `_LOAD_ENV`) during dlopen, so the
    # variables only need to hold for this call; they are put back at once so NumPy or child
    # processes see what they had.
    names = ("OPENBLAS_CORETYPE",) + tuple(_LOAD_ENV)
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in names}
        try:
            if coretype is None:
                os.environ.pop("OPENBLAS_CORETYPE", None)
            else:
                os.environ["OPENBLAS_CORETYPE"] = coretype
            os.environ.update(_LOAD_ENV)
            return ctypes.CDLL(path)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _load_uncached(builds=_BUILDS, features: dict | None = None) -> "Blas":
    coretype, reason = choose_coretype(features)
    tried = []
    for package, suffix, bits in builds:
        path = _find_library(package)
        if path is None:
            tried.append(f"{package}: not installed")
            continue
        preloaded = _already_loaded(path)
        try:
            lib = _dlopen_with_coretype(path, coretype)
        except OSError as e:
            tried.append(f"{package}: {e}")
            continue
        try:
            blas = Blas(lib, path, package, suffix, bits, coretype, reason, preloaded)
        except AttributeError as e:  # a build whose symbol naming this module does not know
            tried.append(f"{package}: {e}")
            continue
        if preloaded and coretype and (blas.corename or "").lower() != coretype.lower():
            warnings.warn(
                f"jitcore BLAS: {path} was already loaded (e.g. by `import {package}`), so its "
                f"core type {blas.corename!r} was fixed then and {coretype!r} ({reason}) could not "
                f"be applied; import jitcore's BLAS first to get it",
                RuntimeWarning,
                stacklevel=3,
            )
        return blas
    raise BlasUnavailableError(
        "jitcore's BLAS needs the 'scipy-openblas64' package (pip install scipy-openblas64); "
        "tried " + "; ".join(tried)
    )


_LOCK = threading.Lock()
_CACHED: "Blas | BlasUnavailableError | None" = None


def load() -> "Blas":
    """The process-wide `Blas`, loaded on first call; raises BlasUnavailableError if it cannot be."""
    global _CACHED
    with _LOCK:
        if _CACHED is None:
            try:
                _CACHED = _load_uncached()
            except BlasUnavailableError as e:
                _CACHED = e
    if isinstance(_CACHED, BlasUnavailableError):
        raise BlasUnavailableError(str(_CACHED))
    return _CACHED


def available() -> bool:
    """Whether `load()` succeeds; False means callers should use their fallback path."""
    try:
        load()
    except BlasUnavailableError:
        return False
    return True


class Blas:
    """One loaded OpenBLAS: its CBLAS GEMM entry points, thread control and what it runs on.

    Attributes: `path` (the shared library), `package`, `version`, `int_bits` (64 for the ILP64
    build: every dimension and leading dimension is int64; 32 otherwise), `coretype` (the core
    name that was forced, None for OpenBLAS's own detection), `reason` (why), `corename` (what
    OpenBLAS reports it runs), `preloaded` (the library was loaded before us, so `coretype` may
    not have applied).
    """

    def __init__(self, lib, path, package, suffix, bits, coretype, reason, preloaded):
        self._lib = lib  # keeps the library mapped, so the addresses handed out stay valid
        self.path = path
        self.package = package
        self.int_bits = bits
        self.coretype = coretype
        self.reason = reason
        self.preloaded = preloaded
        self._suffix = suffix
        self._int = ctypes.c_int64 if bits == 64 else ctypes.c_int32
        self._gemm = {}
        self._lapack = {}
        for short, (_, dtype) in _ENTRIES.items():
            fn = getattr(lib, self.symbol(short))
            scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
            i, p, e = self._int, ctypes.c_void_p, ctypes.c_int
            fn.argtypes = [e, e, e, i, i, i, scalar, p, i, p, i, scalar, p, i]
            fn.restype = None
            self._gemm[np.dtype(dtype)] = fn
        self._get_config = self._optional("openblas_get_config", ctypes.c_char_p, [])
        self._get_corename = self._optional("openblas_get_corename", ctypes.c_char_p, [])
        self._set_threads = self._optional("openblas_set_num_threads", None, [ctypes.c_int])
        self._get_threads = self._optional("openblas_get_num_threads", ctypes.c_int, [])
        # OpenBLAS has one thread count per process. Outside any block it is `_base` (1: GEMMs
        # are shared out by jitcore's pool, see the module `cpu.gemm`); `one_thread` and
        # `threaded` blocks on several threads at once share it (see `_apply`).
        self._threads_lock = threading.Lock()
        self._one_thread_users = 0
        self._wide = []            # thread counts asked for by the `threaded` blocks now open
        self._base = 1
        self._current = None
        if self.controls_threads:
            with self._threads_lock:
                self._apply()
        self.corename = self._text(self._get_corename)

    # -- symbols -------------------------------------------------------------------------------

    @property
    def version(self):
        """The BLAS package's version (importlib.metadata costs ~15 ms to import: only on
        request)."""
        import importlib.metadata
        try:
            return importlib.metadata.version(self.package.replace("_", "-"))
        except (importlib.metadata.PackageNotFoundError, AttributeError):
            return None

    def symbol(self, name: str) -> str:
        """The exported name of `name` ("sgemm", "dgemm", or an OpenBLAS base name such as
        "cblas_sgemm" or "openblas_get_config") in this build, e.g. "scipy_cblas_sgemm64_"."""
        base = _ENTRIES[name][0] if name in _ENTRIES else name
        return f"scipy_{base}{self._suffix}"

    def address(self, name: str) -> int:
        """Address of the CBLAS GEMM entry point `name` ("sgemm" or "dgemm"), for native code.

        C signature (cblas.h; `blasint` is int64_t in the ILP64 build, `int_bits == 64`, and
        int32_t in the LP64 one; the three enums are plain C ints)::

            void scipy_cblas_sgemm64_(int order, int trans_a, int trans_b,
                                      blasint m, blasint n, blasint k,
                                      float alpha, const float *a, blasint lda,
                                      const float *b, blasint ldb,
                                      float beta, float *c, blasint ldc);

        and the same with `double` for dgemm. It computes C = alpha * op(A) @ op(B) + beta * C,
        with C m x n, op(A) m x k, op(B) k x n. `order` is ROW_MAJOR (101) or COL_MAJOR (102);
        `trans_*` is NO_TRANS (111) or TRANS (112). Row-major: `lda` is the row stride of A in
        elements as stored (>= max(1, k) untransposed, >= max(1, m) transposed), likewise `ldb`
        (>= max(1, n) / max(1, k)) and `ldc` (>= max(1, n)); leading dimensions below 1 are
        rejected even for empty matrices. With beta == 0, C is not read (NaNs in it vanish). C
        must not overlap A or B. In LLVM IR (see `llvm_function_type`)::

            void (i32, i32, i32, i64, i64, i64, float, ptr, i64, ptr, i64, float, ptr, i64)

        The address stays valid for the life of the process (the `Blas` keeps the library open).
        """
        if name not in _ENTRIES:
            raise KeyError(f"jitcore BLAS: no entry point {name!r}; known: {', '.join(_ENTRIES)}")
        fn = self._gemm[np.dtype(_ENTRIES[name][1])]
        return ctypes.cast(fn, ctypes.c_void_p).value

    def llvm_function_type(self, name: str) -> str:
        """The LLVM IR function type of `address(name)`, e.g. for an `inttoptr` + call."""
        if name not in _ENTRIES:
            raise KeyError(f"jitcore BLAS: no entry point {name!r}; known: {', '.join(_ENTRIES)}")
        f = "float" if _ENTRIES[name][1] == np.float32 else "double"
        i = f"i{self.int_bits}"
        args = ["i32"] * 3 + [i] * 3 + [f, "ptr", i, "ptr", i, f, "ptr", i]
        return f"void ({', '.join(args)})"

    def lapack_symbol(self, name: str) -> str:
        """The exported name of the LAPACK/BLAS routine `name`: a Fortran one ("dgetrf" ->
        "scipy_dgetrf_64_" in the ILP64 build) or a CBLAS one ("cblas_dtrsm" ->
        "scipy_cblas_dtrsm64_")."""
        if name.startswith("cblas_"):
            return self.symbol(name)
        return f"scipy_{name}_{self._suffix}"

    def lapack_function(self, name: str):
        """The ctypes function of `lapack_symbol(name)` (no argtypes: pass pointers, or
        `int_bits`-wide integers by value for CBLAS). Raises KeyError if this build lacks it."""
        fn = self._lapack.get(name)
        if fn is None:
            try:
                fn = getattr(self._lib, self.lapack_symbol(name))
            except AttributeError:
                raise KeyError(f"jitcore BLAS: {self.path} exports no "
                               f"{self.lapack_symbol(name)!r}") from None
            fn.restype = None
            self._lapack[name] = fn
        return fn

    def lapack_address(self, name: str) -> int:
        """Address of the LAPACK (Fortran ABI) or CBLAS routine `name`, for native code.

        Fortran routines ("dgetrf", "zheevd", ...) take every argument by pointer: integers are
        `int_bits` wide (int64 in the ILP64 build), each CHARACTER argument is a pointer to one
        byte whose length follows all the other arguments as a hidden size_t (gfortran's
        convention; routines written in C ignore it). Matrices are column-major. CBLAS
        routines ("cblas_dtrsm") take enums and dimensions by value as in cblas.h. The address
        stays valid for the life of the process."""
        return ctypes.cast(self.lapack_function(name), ctypes.c_void_p).value

    # -- information and threads --------------------------------------------------------------

    def config(self) -> dict:
        """What was loaded and why: OpenBLAS's own config and core strings (None where this build
        does not export them), the forced core type and its reason, path, integer width, threads."""
        return {
            "config": self._text(self._get_config),
            "corename": self._text(self._get_corename),
            "coretype": self.coretype,
            "reason": self.reason,
            "preloaded": self.preloaded,
            "path": self.path,
            "package": self.package,
            "version": self.version,
            "int_bits": self.int_bits,
            "num_threads": self.get_num_threads(),
        }

    def set_num_threads(self, n: int) -> None:
        """Threads OpenBLAS uses outside jitcore's `one_thread`/`threaded` blocks (1 from load:
        jitcore's compiled code shares GEMMs out over its own pool, so this only matters to
        direct `gemm` calls and to benchmarks that time OpenBLAS's own threading)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"jitcore BLAS: set_num_threads needs an int >= 1, got {n!r}")
        if self._set_threads is None:
            raise BlasUnavailableError(f"{self.path} exports no openblas_set_num_threads")
        with self._threads_lock:
            self._base = int(n)
            self._apply()

    def get_num_threads(self) -> int | None:
        return None if self._get_threads is None else int(self._get_threads())

    @property
    def controls_threads(self) -> bool:
        """Whether this build lets `one_thread` (and `set_num_threads`) change its threads."""
        return self._set_threads is not None and self._get_threads is not None

    def _apply(self):
        """Set OpenBLAS's count to what the open blocks ask (caller holds `_threads_lock`): 1
        while any `one_thread` block is open (its GEMMs run on pool threads already: more would
        oversubscribe the cores), else the largest `threaded` count, else `_base`. Only an
        actual change calls OpenBLAS."""
        want = 1 if self._one_thread_users else max(self._wide, default=self._base)
        if want != self._current:
            self._set_threads(want)
            self._current = want

    @contextlib.contextmanager
    def one_thread(self):
        """Every GEMM runs on its calling thread inside the block. Blocks on several threads
        at once share one change: the count comes back when the last of them ends."""
        with self._threads_lock:
            self._one_thread_users += 1
            self._apply()
        try:
            yield
        finally:
            with self._threads_lock:
                self._one_thread_users -= 1
                self._apply()

    @contextlib.contextmanager
    def threaded(self, n: int):
        """OpenBLAS may use `n` threads inside the block (LAPACK routines, which cannot be
        shared out like a GEMM), unless a `one_thread` block is open on another thread."""
        with self._threads_lock:
            self._wide.append(max(1, int(n)))
            self._apply()
        try:
            yield
        finally:
            with self._threads_lock:
                self._wide.remove(max(1, int(n)))
                self._apply()

    # -- NumPy convenience ---------------------------------------------------------------------

    def gemm(self, a, b, out=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """out = alpha * op(a) @ op(b) + beta * out, for 2-D float32 or float64 arrays of one
        dtype, where op transposes when `trans_*` is true. Returns `out` (new when None, which
        needs beta == 0). Inputs with a unit stride along either axis are used in place; others
        are copied. An `out` that overlaps an input or is not row-major is computed into a
        temporary and copied back."""
        a = np.asarray(a)
        b = np.asarray(b)
        if a.ndim != 2 or b.ndim != 2:
            raise ValueError(
                f"jitcore BLAS gemm: needs 2-D operands, got shapes {a.shape} and {b.shape}")
        dtype = a.dtype
        if dtype not in self._gemm or b.dtype != dtype:
            raise TypeError(
                f"jitcore BLAS gemm: operands must both be float32 or both float64, got "
                f"{a.dtype} and {b.dtype}")
        m, k = a.shape[::-1] if trans_a else a.shape
        kb, n = b.shape[::-1] if trans_b else b.shape
        if k != kb:
            raise ValueError(
                f"jitcore BLAS gemm: contracting dimensions differ: op(a) is {m}x{k}, op(b) is "
                f"{kb}x{n} (shapes {a.shape}, {b.shape}, trans_a={trans_a}, trans_b={trans_b})")
        if out is None:
            if beta != 0:
                raise ValueError("jitcore BLAS gemm: beta != 0 reads `out`, so pass out=")
            out = np.empty((m, n), dtype)
        elif not isinstance(out, np.ndarray) or out.shape != (m, n) or out.dtype != dtype:
            raise ValueError(
                f"jitcore BLAS gemm: out must be a {dtype} ndarray of shape {(m, n)}, got "
                f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
        elif not out.flags.writeable:
            raise ValueError("jitcore BLAS gemm: out is read-only")
        target = out
        c = _row_major(out)
        if c is None or np.may_share_memory(out, a) or np.may_share_memory(out, b):
            target = np.array(out) if beta != 0 else np.empty((m, n), dtype)
            c = _row_major(target)
        pa, lda, ta = _operand(a, trans_a)
        pb, ldb, tb = _operand(b, trans_b)
        self._gemm[dtype](ROW_MAJOR, ta, tb, m, n, k, alpha, pa.ctypes.data, lda,
                          pb.ctypes.data, ldb, beta, target.ctypes.data, c)
        if target is not out:
            out[...] = target
        return out

    def __repr__(self):
        return (f"Blas({self.package} {self.version}, int{self.int_bits}, core={self.corename!r}, "
                f"forced={self.coretype!r}: {self.reason})")

    # -- helpers -------------------------------------------------------------------------------

    def _optional(self, base, restype, argtypes):
        try:
            fn = getattr(self._lib, self.symbol(base))
        except AttributeError:
            return None
        fn.restype = restype
        fn.argtypes = argtypes
        return fn

    @staticmethod
    def _text(fn):
        if fn is None:
            return None
        raw = fn()
        return raw.decode("utf-8", "replace").strip() if raw else None


class WorkspaceQuery:
    """ctypes arguments for a LAPACK workspace query (lwork = -1) on `lib` (a `Blas`), for
    matrices of dtype `dt`: the routine writes the sizes it wants into the first element of
    each work array (`lwork()`, `lrwork()`, `liwork()` read them)."""

    def __init__(self, lib, dt):
        self.lib = lib
        self.int = np.int64 if lib.int_bits == 64 else np.int32
        self.dt = dt
        self.keep = []
        self._w = np.zeros(2, dt)
        self._rw = np.zeros(2, np.float32 if dt in (np.float32, np.complex64) else np.float64)
        self._iw = np.zeros(2, self.int)
        self._info = np.zeros(1, self.int)

    def _ptr(self, arr):
        self.keep.append(arr)
        return ctypes.c_void_p(arr.ctypes.data)

    def i(self, v):
        return self._ptr(np.array([v], self.int))

    def c(self, ch):
        return self._ptr(np.frombuffer(ch.encode(), np.uint8).copy())

    def a(self):
        return self._ptr(np.zeros(4, self.dt))

    def r(self):
        return self._ptr(np.zeros(4, self._rw.dtype))

    def w(self):
        return self._ptr(self._w)

    def rw(self):
        return self._ptr(self._rw)

    def iw(self):
        return self._ptr(self._iw)

    def info(self):
        return self._ptr(self._info)

    def call(self, name, *args):
        fn = self.lib.lapack_function(name)
        fn(*[ctypes.c_size_t(a) if isinstance(a, int) else a for a in args])
        if self._info[0] != 0:
            raise RuntimeError(f"jitcore LAPACK: workspace query of {name} failed "
                               f"(info={int(self._info[0])})")

    def work(self, name, *args):
        self._w[0] = 0
        self.call(name, *args)
        return self.lwork()

    @staticmethod
    def _size(v):
        # Single-precision routines report sizes as floats, which may round down.
        return max(1, int(np.ceil(float(np.real(v)) * (1 + 2e-7))) + 1)

    def lwork(self):
        return self._size(self._w[0])

    def lrwork(self):
        return self._size(self._rw[0])

    def liwork(self):
        return max(1, int(self._iw[0]))


def _row_major(x: np.ndarray) -> int | None:
    """Leading dimension (elements) if x is usable as a row-major matrix in place, else None."""
    if not x.flags.aligned or not x.dtype.isnative:
        return None
    item = x.itemsize
    rows, cols = x.shape
    if x.size == 0:  # no element is touched, and NumPy gives empty arrays arbitrary strides
        return max(1, cols)
    s0, s1 = x.strides
    if cols > 1 and s1 != item:
        return None
    if rows <= 1:
        return max(1, cols)
    if s0 % item or s0 < cols * item:
        return None
    return max(1, s0 // item, cols)


def _operand(x: np.ndarray, trans: bool):
    """(array whose data pointer to pass, leading dimension, CBLAS transpose flag)."""
    ld = _row_major(x)
    if ld is not None:
        return x, ld, TRANS if trans else NO_TRANS
    ld = _row_major(x.T)
    if ld is not None:  # column-major storage is the row-major transpose
        return x, ld, NO_TRANS if trans else TRANS
    x = np.ascontiguousarray(x)
    return x, max(1, x.shape[1]), TRANS if trans else NO_TRANS

