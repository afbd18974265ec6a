"""The project's error types, in a leaf module that imports nothing of hpcast.

Every stage raises and catches these, so they live below all of them: a stage that needs `ConfigError` or
`DataError` no longer imports the module that first raised it (which is how `config.py` <-> `forecast/`
and `data/calendars.py` <-> `data/frame.py` used to import each other). Each package re-exports the errors
its users catch (``hpcast.data.DataError``, ``hpcast.config.ConfigError``, ...), so those names still work.

Every message names the argument, its value and the rule (STYLE.md), and the rule-breaking errors are
`ValueError`s, so that the CLI turns them into one ``Error: ...`` line.
"""

from __future__ import annotations

__all__ = ["ArtifactError", "CommitConflictError", "ConfigError", "DataError", "InputError", "RegistryError",
           "StorageError", "StoreError"]


class ConfigError(ValueError):
    """A configuration value breaks a rule; the message names the key, the value and the rule."""


class DataError(ValueError):
    """Input data breaks a rule; the message names where (file, row, column) and which rule."""


class StoreError(ValueError):
    """A store operation was asked something it cannot do; the message says what and why."""


class CommitConflictError(RuntimeError):
    """Another writer created the same commit version first; re-read the table and retry."""


class ArtifactError(ValueError):
    """A model folder is missing, of an unknown format, or its weights do not match its manifest."""


class RegistryError(ValueError):
    """A registry request cannot be met (unknown asset, version or alias, or a registry that cannot answer);
    the message says which."""


class StorageError(ValueError):
    """A study storage cannot be opened; the message names the (redacted) URL and the reason."""


class InputError(ValueError):
    """Inputs that break a rule: ``errors`` lists ``(field, message)``, one per broken rule."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors))
