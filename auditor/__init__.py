"""auditor: prove whether a built container image is minimal and safe to ship."""

__version__ = "0.1.0"
