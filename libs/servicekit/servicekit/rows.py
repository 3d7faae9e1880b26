"""Rows of several tables written in one statement: a business row, its event, its audit entry.

A request that writes one row into each of a few tables pays a round trip per row on
PostgreSQL, about 0.3 ms of the web process's CPU each; `insert_rows` sends them as one INSERT
with data-modifying WITH clauses. Each value goes through its column type's bind processor, so
the stored rows are those Core writes one by one, which is what other databases get.
"""

from functools import lru_cache

import sqlalchemy as sa

from servicekit import bulk


def insert_rows(session, rows: list[tuple[sa.Table, dict]], guard=None) -> bool:
    """INSERT one row into each of several tables, in the session's transaction.

    One statement on PostgreSQL. Elsewhere, or when a row leaves out a column with a Python-side
    default, one INSERT per row, in the order given (servicekit.bulk's: at the driver when it
    can). A table appears once at most: PostgreSQL runs the WITH clauses in no set order.

    `guard`: (UPDATE statement, its parameters) that must change a row for the rows to be
    written, such as marking a one-time credential used. On PostgreSQL it is one more WITH
    clause of the same statement, each INSERT reading its RETURNING; elsewhere it runs first and
    the rows follow only if it changed one. Returns whether the rows were written.
    """
    tables = [table for table, _values in rows]
    if len(set(tables)) != len(tables):
        raise ValueError("insert_rows writes one row per table")
    if not tables:
        return _run_guard(session, guard)
    connection = session.connection()
    shape = tuple((table, tuple(values)) for table, values in rows)
    guard_statement, guard_values = guard or (None, {})
    prepared = _prepared(connection.dialect, shape, guard_statement)
    if prepared is None:
        if not _run_guard(session, guard):
            return False
        for table, values in rows:
            bulk.insert_one(session, table, values)
        return True
    sql, fixed, processors = prepared
    parameters = {**fixed, **guard_values, **_row_parameters(rows)}
    for name, process in processors:
        parameters[name] = process(parameters[name])
    result = connection.exec_driver_sql(sql, parameters, execution_options=_ROW_COUNT)
    return guard is None or result.rowcount == 1


# The last INSERT's row count says whether the guard changed a row (SQLAlchemy keeps an INSERT's
# count only when asked).
_ROW_COUNT = {"preserve_rowcount": True}


@lru_cache(maxsize=64)
def _prepared(dialect, shape: tuple, guard=None) -> tuple[str, dict, tuple] | None:
    """The single INSERT of `shape` as exec_driver_sql sends it, or None to write row by row.

    Compiled once: (SQL, the values the statement holds itself, (parameter, bind processor)
    pairs). Each value goes through its type's own processor, as Core would send it, without
    Core's work at every execution (about a third of a refresh grant's CPU went to running its
    two statements).
    """
    statement = _rows_statement(dialect.name, shape, guard)
    if statement is None:
        return None
    compiled = statement.compile(dialect=dialect)
    fixed, processors = {}, []
    for bind, name in compiled.bind_names.items():
        if bind.callable is not None:  # a value computed at each execution: not kept once
            raise RuntimeError(f"parameter {name!r} is computed at each execution")
        if bind.required and name != bind.key:
            raise RuntimeError(f"parameter {bind.key!r} renamed {name!r}")
        if not bind.required:  # a value the statement holds (a literal, a default)
            fixed[name] = bind.value
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((name, process))
    return compiled.string, fixed, tuple(processors)


def _run_guard(session, guard) -> bool:
    if guard is None:
        return True
    statement, values = guard
    return session.connection().execute(statement, values).rowcount == 1


def _rows_statement(dialect_name: str, shape: tuple, guard=None):
    """The single INSERT of `shape` ((table, column names) pairs), or None to write row by row.

    With a guard (an UPDATE), every INSERT reads its row from a SELECT that returns nothing
    unless the guard's RETURNING does.
    """
    if dialect_name != "postgresql" or len(shape) + (guard is not None) < 2:
        return None
    if any(bulk.leaves_out_defaults(table, columns) for table, columns in shape):
        return None
    guarded = None
    if guard is not None:
        returned = guard.returning(sa.literal_column("1").label("changed")).cte("guard")
        guarded = sa.exists(returned.select())
    inserts = [
        _insert(table, columns, f"r{index}_", guarded)
        for index, (table, columns) in enumerate(shape)
    ]
    *first, last = inserts
    return last.add_cte(*(insert.cte(f"row_{index}") for index, insert in enumerate(first)))


def _insert(table, columns, prefix, guarded):
    values = {name: sa.bindparam(prefix + name, type_=table.c[name].type) for name in columns}
    if guarded is None:
        return table.insert().values(values)
    return table.insert().from_select(list(values), sa.select(*values.values()).where(guarded))


def _row_parameters(rows: list[tuple[sa.Table, dict]]) -> dict:
    return {
        f"r{index}_{name}": value
        for index, (_table, values) in enumerate(rows)
        for name, value in values.items()
    }
