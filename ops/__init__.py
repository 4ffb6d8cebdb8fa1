"""Every primitive, defined once with all of its rules. Imports only NumPy.

Importing `ops` registers every primitive family in `ops.core.PRIMITIVES`.
"""
from . import core, dtypes, errors, rules  # noqa: F401
from . import elementwise, shape, reduction, linalg  # noqa: F401
from . import custom_derivatives, calls  # noqa: F401
from . import sorting  # noqa: F401
from . import decompositions  # noqa: F401
from . import spectral  # noqa: F401  (eigh, svd, eig, schur)
from . import indexing  # noqa: F401
from . import control_flow  # noqa: F401
from . import complex_parts  # noqa: F401  (after the families whose ops it rules)
from . import fft  # noqa: F401
from . import conv  # noqa: F401
from . import windows  # noqa: F401  (reduce_window_sum/max/min)
from . import callbacks  # noqa: F401  (pure_callback, host_callback)
from . import collectives  # noqa: F401  (psum, all_gather, axis_index... under vmap)
from .core import PRIMITIVES, Primitive, ShapedArray, bind  # noqa: F401
