"""Counting the SQL statements a block runs, to hold pages and reports to a fixed number."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from academy.extensions import db


@contextmanager
def counted_queries():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
