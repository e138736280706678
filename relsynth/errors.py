"""One error tree for everything relsynth raises on purpose.

Every message names the bad value and says how to fix it, in one line; the CLI prints
``error: <message>`` and exits non-zero without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "RelsynthError",
    "SchemaError",
    "ConfigError",
    "ModelError",
    "SourceError",
    "SinkError",
    "TargetNotEmptyError",
    "SelectionError",
    "MissingExtraError",
    "did_you_mean",
]


class RelsynthError(Exception):
    """Base class of every error relsynth raises deliberately."""


class ConfigError(RelsynthError, ValueError):
    """An option, argument or configuration value is invalid."""


class SchemaError(RelsynthError):
    """The schema cannot be read or cannot be handled as described."""


class SelectionError(SchemaError, ConfigError):
    """An include/exclude list names a table that does not exist or cuts a foreign key.

    A schema problem caused by an option, so the CLI reports it as a usage error (exit 2).
    """


class SourceError(RelsynthError):
    """The source database or data cannot be read."""


class ModelError(RelsynthError):
    """A model cannot be fitted, loaded or sampled."""


class SinkError(RelsynthError):
    """The target cannot be written."""


class TargetNotEmptyError(SinkError):
    """The target already holds tables that the write would touch."""


class MissingExtraError(RelsynthError, ImportError):
    """An optional dependency is not installed; the message gives the pip line."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed: "
            f'run pip install "relsynth[{extra}]"'
        )


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
