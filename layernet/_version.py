"""The layernet version (one place; the package root and file headers read it)."""

__version__ = "0.2.0"
