"""Every primitive, defined once with all of its rules. Imports only NumPy.

Importing `ops` registers every primitive family in `ops.core.PRIMITIVES`.
"""
from . import core, dtypes, errors, rules  # noqa: F401
from . import elementwise, shape, reduction, linalg  # noqa: F401
from . import custom_derivatives, calls  # noqa: F401
from . import sorting  # noqa: F401
from . import indexing  # noqa: F401
from . import control_flow  # noqa: F401
from .core import PRIMITIVES, Primitive, ShapedArray, bind  # noqa: F401
