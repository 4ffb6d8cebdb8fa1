"""jitcore: a JAX-like tracing JIT compiler for numeric Python.

    import jitcore as jax
    import jitcore.numpy as jnp

`jit` traces a function into an HLO-like IR (`make_hlo` shows it) and compiles one
specialization per input signature.
"""
from . import tracing as _tracing  # installs the eager trace  # noqa: F401
from . import config, errors, tree_util  # noqa: F401
from . import tree  # noqa: F401
from .array import Array  # noqa: F401
from . import numpy  # noqa: F401
from . import array_methods as _array_methods  # noqa: F401  (attaches operators and methods)
from . import lax  # noqa: F401
from .jit import jit, make_hlo, CacheInfo, clear_cache  # noqa: F401
from .devices import devices, device_put  # noqa: F401,E402  (the function shadows the module)
from .ad import (grad, value_and_grad, vjp, jvp, linearize, jacfwd, jacrev, jacobian,  # noqa: F401
                 hessian)
from .batching import vmap  # noqa: F401
from .custom_derivatives import custom_jvp, custom_vjp  # noqa: F401
from .ad_checkpoint import checkpoint, remat, checkpoint_policies  # noqa: F401,E402
from . import random, nn, scipy, dtypes  # noqa: F401,E402
from . import image  # noqa: F401,E402
from . import ops_segment as ops  # noqa: F401,E402  (jax.ops.segment_sum ...)
from .inspection import (make_jaxpr, eval_shape, ShapeDtypeStruct, block_until_ready, disable_jit, ensure_compile_time_eval, named_call, named_scope)  # noqa: F401,E402,E501
from . import typing, test_util  # noqa: F401,E402
from . import debug, experimental  # noqa: F401,E402
from .callbacks import pure_callback  # noqa: F401,E402
from . import profiler  # noqa: F401,E402
from .viz import viz  # noqa: F401,E402
from .jit_observe import log_compiles  # noqa: F401,E402
from .environment import print_environment_info  # noqa: F401,E402

__version__ = "0.1.0"

from xla_like.backends import runtime as _backend_runtime  # noqa: E402

# The backends' persistent cache keys on jitcore's version.
_backend_runtime.set_producer_version(__version__)

__all__ = ["Array", "jit", "make_hlo", "numpy", "lax", "tree_util", "tree", "errors",
           "CacheInfo", "clear_cache", "grad", "value_and_grad", "vjp", "jvp", "linearize",
           "jacfwd", "jacrev", "jacobian", "hessian", "vmap", "custom_jvp", "custom_vjp",
           "devices", "device_put"]

from ._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
