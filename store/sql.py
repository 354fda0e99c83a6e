"""Statements the two databases of the store (SQLite, PostgreSQL) spell differently.

Most of the store's SQL reads the same on both and is a plain string (placeholders `?`; store/postgres.py
numbers them). Where they differ in more (JSON functions above all), a statement is a `Dialects`: each
database's connection objects take the spelling of their own `dialect`.
"""

from typing import NamedTuple


class Dialects(NamedTuple):
    sqlite: str
    postgresql: str


Statement = str | Dialects


def row_limit(limit: int | None, dialect: str) -> int | None:
    """The value of a `LIMIT ?` for at most `limit` rows, None meaning all: SQLite's all is -1,
    PostgreSQL's NULL."""
    if limit is not None:
        return limit
    return None if dialect == "postgresql" else -1


def spelled(statement: Statement, dialect: str) -> str:
    """`statement` as `dialect` spells it."""
    return statement if isinstance(statement, str) else getattr(statement, dialect)
