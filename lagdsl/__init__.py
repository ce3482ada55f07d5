"""lagdsl: a modelling language and compiler for constrained problems."""
__version__ = "0.1.0"
