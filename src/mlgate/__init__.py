"""mlgate: gate ML models through CI/CD like any other software artifact."""

__version__ = "0.1.0"
__all__ = ["__version__"]
