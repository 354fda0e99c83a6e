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


def spelled(statement: Statement, dialect: str) -> str:
    """`statement` as `dialect` spells it."""
    return statement if isinstance(statement, str) else getattr(statement, dialect)
