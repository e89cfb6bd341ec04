"""Exceptions that carry a message meant for the user (no traceback needed)."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: config, data file, arguments.

    The CLI prints ``str(err)`` on one line and exits with ``exit_code``.
    """

    exit_code: int = 2


class SpecError(UserError):
    """An invalid field in a spec or config: names the field, the value and what was expected."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class DataFileError(UserError):
    """A data file is missing or malformed: names the path and what to do."""

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")
