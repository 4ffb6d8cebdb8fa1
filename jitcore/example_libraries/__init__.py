"""Small reference libraries built on jitcore, mirroring ``jax.example_libraries``."""
