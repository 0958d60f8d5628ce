"""The project's exception types.

Every error raised on bad input names where the problem is: the source, the file, the row
(1-based, counting the header as row 1 for delimited files, the spreadsheet row for workbooks)
and the column. Catch :class:`LearnraceError` to handle any of them.
"""

from __future__ import annotations


class LearnraceError(Exception):
    """Base class of every error learnrace raises on purpose."""


class DataError(LearnraceError):
    """Input data broke a declared schema or a data rule.

    Attributes:
        source: the source folder name (e.g. ``pcdb_carnegie``) or a user's series file.
        file: the file, relative to the source folder where possible.
        row: 1-based row in the file (header = row 1), or ``None`` when the whole file is at fault.
        column: the column name, or ``None`` when the whole row or file is at fault.
        problem: what is wrong, in plain words.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.file = file
        self.row = row
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        where = [f"source {self.source!r}"]
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.problem}"


class ModelError(LearnraceError):
    """A model could not be built, fitted, saved or loaded as asked."""


class ProvenanceError(ModelError):
    """A saved result does not match the model id, data or code it is loaded against."""
