"""Backends: one module per backend, imported as lagdsl.backends.<name>."""
