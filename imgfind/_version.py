"""The package version, in one place: pyproject.toml reads it from here (setuptools dynamic)."""

__version__ = "0.1.0"
