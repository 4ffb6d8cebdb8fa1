"""`jitcore.experimental`: APIs JAX keeps under `jax.experimental`."""
from ..callbacks import io_callback  # noqa: F401
