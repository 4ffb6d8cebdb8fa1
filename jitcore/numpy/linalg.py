"""`jitcore.numpy.linalg`: norm."""
