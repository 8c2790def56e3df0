"""Exceptions and warnings raised by mcsim."""

from __future__ import annotations

__all__ = [
    "CheckpointWarning",
    "ConfigError",
    "ConvergenceWarning",
    "DataError",
    "McsimError",
    "ModelFitError",
    "NumericalWarning",
    "OutputError",
]


class McsimError(Exception):
    """Base class of every error mcsim raises on purpose."""


class ConfigError(McsimError, ValueError):
    """A scenario or an argument has a wrong value; the message names the field and the fix."""


class DataError(McsimError, ValueError):
    """Historical data cannot be used; the message names the column and row and the fix."""


class ModelFitError(McsimError, RuntimeError):
    """A model could not be fitted to the data given."""


class OutputError(McsimError, OSError):
    """The output folder cannot be used or written; the message names it, the file and why."""


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped before converging; the message says what to try."""


class NumericalWarning(UserWarning):
    """A result may be numerically unreliable; the message says what to check."""


class CheckpointWarning(UserWarning):
    """A checkpoint block failed its proof and is simulated again; results are unaffected."""
