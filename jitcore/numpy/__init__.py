"""`jitcore.numpy`: NumPy's API on jitcore arrays and traced values.

Functions follow NumPy's signatures (axis, keepdims, dtype) and JAX's semantics: results are
immutable `jitcore.Array`s, Python scalars are weakly typed, and creation functions default to
float64/int64 (JAX with 64-bit enabled).
"""
from . import _promotion, _indexing  # noqa: F401
from ._promotion import asarray  # noqa: F401
from ._dtypes import *  # noqa: F401,F403
from ._creation import *  # noqa: F401,F403
from ._ufuncs import *  # noqa: F401,F403
from ._reductions import *  # noqa: F401,F403
from ._nan_reductions import *  # noqa: F401,F403
from ._shape import *  # noqa: F401,F403
from ._linalg import *  # noqa: F401,F403
from ._sorting import *  # noqa: F401,F403
from ._indexing import *  # noqa: F401,F403
from ._convolve import *  # noqa: F401,F403
from ._complex import *  # noqa: F401,F403
from ._extras import *  # noqa: F401,F403
from . import linalg  # noqa: F401
from . import fft  # noqa: F401
from ..array import Array as ndarray  # noqa: F401  (isinstance checks, as in jax.numpy)

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
