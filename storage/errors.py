"""The errors Workbench shows to people: each carries one readable line, never a traceback."""


class WorkbenchError(Exception):
    """Base of every error whose message is fit to show as-is in the CLI and the TUI."""


class StorageError(WorkbenchError):
    """The metadata database refused or failed an operation (locked, unreachable, corrupt)."""


class SchemaOutOfDateError(StorageError):
    """The database was made by an older Workbench and must be upgraded before use."""


class SchemaTooNewError(StorageError):
    """The database was made by a newer Workbench: this one must be upgraded to use it."""


class NotFoundError(WorkbenchError):
    """A named thing (dataset, version, ...) does not exist in the workspace."""


class DatasetInputError(WorkbenchError):
    """A file offered as a dataset cannot be read; the message names the file and where."""


class SweepInputError(WorkbenchError):
    """A sweep definition or its data cannot be used; the message names the field."""
