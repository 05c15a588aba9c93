"""Junban: a real-time queue hub for clinics."""

# The one place the version is written: pyproject.toml reads it (setuptools' dynamic
# version) and tests/test_package.py checks clients/js/package.json against it.
__version__ = "0.1.0"
