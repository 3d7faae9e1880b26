"""Bulk writes at the driver: one executemany INSERT, or UPDATE by id, for many rows at once.

Through SQLAlchemy Core the same statement rebuilds each row's parameters (defaults, processors,
key lookups), which costs several times the database's own work per row: a bulk import notices.
Here the SQL is generated once per table and set of columns from the table's metadata, and each
value goes through its column type's own bind processor, so the stored values are the ones Core
would store. Rows that leave out a column with a Python-side default or onupdate take the Core
path, which fills it in. On PostgreSQL (psycopg), many rows are inserted by one COPY, whose rows
the driver encodes in C, instead of one INSERT per row. Rows are read by many keys at once with
`rows_among`: an array of keys on PostgreSQL, a list of them elsewhere.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from servicekit.ids import uuid7_hexes, uuid7s


def insert_many(session, table: sa.Table, rows: list[dict]) -> None:
    """INSERT rows that all name the same columns, in the session's transaction."""
    if rows:
        _execute_many(session, table, tuple(rows[0]), rows, by_id=False)


def insert_one(session, table: sa.Table, values: dict) -> None:
    """INSERT one row, in the session's transaction: the SQL insert_many would send, for one
    row (about half the cost of a Core INSERT, which builds its parameters anew each time)."""
    connection = session.connection()
    prepared = _prepared(connection.dialect, table, tuple(values), False)
    if prepared is None:
        connection.execute(_core_statement(table, False), values)
        return
    sql, order, conversions = prepared
    row = list(itemgetter(*order)(values))
    for index, process in conversions:
        row[index] = process(row[index])
    connection.exec_driver_sql(sql, tuple(row))


def update_many(session, table: sa.Table, rows: list[dict]) -> None:
    """UPDATE rows by primary key `id`; each row names its `id` and the same columns."""
    if rows:
        _execute_many(session, table, tuple(rows[0]), rows, by_id=True)


def insert_values(session, table: sa.Table, columns: tuple, rows: list[tuple]) -> None:
    """INSERT rows given as tuples of their values in the order of `columns`, in the session's
    transaction: insert_many without a dict per row, for a caller that builds millions."""
    if not rows:
        return
    connection = session.connection()
    prepared = _prepared(connection.dialect, table, columns, False)
    if prepared is None:
        named = [dict(zip(columns, row, strict=True)) for row in rows]
        session.execute(_core_statement(table, False), named)
        return
    _send(connection, table, prepared, rows, by_id=False)


def new_ids(session, count: int) -> list:
    """`count` new ids (servicekit.ids, increasing) for the rows of a UUID key that
    insert_values writes: UUIDs, or on a database without a UUID type (SQLite) their 32 hex
    digits, what the column's type makes of a UUID, drawn without building one (a bulk import
    draws one per row). Only this module's writes take the text: Core's refuse it."""
    if session.get_bind().dialect.supports_native_uuid:
        return uuid7s(count)
    return uuid7_hexes(count)


def _execute_many(session, table: sa.Table, columns: tuple, rows: list[dict], by_id: bool):
    """Run the statement at the driver, with the column types' own conversions."""
    connection = session.connection()
    prepared = _prepared(connection.dialect, table, columns, by_id)
    if prepared is None:
        session.execute(_core_statement(table, by_id), _core_rows(rows, by_id))
        return
    order = prepared[1]
    _send(connection, table, prepared, list(map(itemgetter(*order), rows)), by_id)


def _send(connection, table: sa.Table, prepared, parameters: list, by_id: bool) -> None:
    """Convert the rows' values (tuples in the prepared order) and send them to the driver."""
    sql, order, conversions = prepared
    # A conversion that gives back every value as it is (a boolean or an aware datetime on
    # PostgreSQL) spares turning the rows into columns and back.
    changing = [
        (index, process) for index, process in conversions if _changes(parameters, index, process)
    ]
    if changing:
        by_column = list(zip(*parameters, strict=True))
        for index, process in changing:
            by_column[index] = _converted(by_column[index], process)
        parameters = list(zip(*by_column, strict=True))
    if not by_id and _copies(connection, len(parameters)):
        _copy(connection, table, order, parameters)
    else:
        connection.exec_driver_sql(sql, parameters)


# Below this many rows an executemany costs no more than a COPY and its extra round trip.
COPY_MIN_ROWS = 64


def _copies(connection, count: int) -> bool:
    dialect = connection.dialect
    return count >= COPY_MIN_ROWS and dialect.name == "postgresql" and dialect.driver == "psycopg"


def _copy(connection, table: sa.Table, order: tuple, parameters: list[tuple]) -> None:
    statement, types = _copy_sql(connection.dialect, table, order)
    _copy_into(connection, statement, types, parameters)


@lru_cache(maxsize=64)
def _copy_sql(dialect, table: sa.Table, columns: tuple) -> tuple[str, tuple | None]:
    """(COPY statement, the columns' binary types or None for the text format)."""
    preparer = dialect.identifier_preparer
    types = binary_types(dialect, table, columns)
    # Only names from the table's own metadata, quoted by the dialect, go into the text.
    statement = f"COPY {preparer.format_table(table)} ({_names(preparer, columns)}) FROM STDIN"
    return statement + (_BINARY if types else ""), types


_BINARY = " (FORMAT BINARY)"


def binary_types(dialect, table: sa.Table, columns: tuple) -> tuple[str, ...] | None:
    """The PostgreSQL types whose binary form psycopg writes for these columns, or None when
    one of them must go in the text format.

    A COPY in the binary format costs the writer about a third of the text format's CPU (no
    value printed then escaped: a role row of 20 columns, 4.2 µs against 1.5). Only the
    types below qualify, whose values come from SQLAlchemy as psycopg's binary dumpers take
    them (UUID objects, str, bool, aware datetimes, int); a value of another Python type fails
    the COPY, and with it the transaction, where the text format would have let PostgreSQL
    cast it. A column of any other type (JSON, enums...) keeps the whole COPY in text.
    """
    types = [_binary_type(table.c[column].type, dialect) for column in columns]
    return None if None in types else tuple(types)


def _binary_type(type_, dialect) -> str | None:
    type_ = type_.dialect_impl(dialect)  # the variant for this database
    if isinstance(type_, sa.TypeDecorator):  # its bind processing has run: its impl's values
        type_ = type_.impl_instance.dialect_impl(dialect)
    if isinstance(type_, sa.Enum):  # a String whose column is of its own type
        return None
    if isinstance(type_, sa.Uuid):
        return "uuid" if type_.as_uuid else None
    if isinstance(type_, sa.String):  # varchar's binary form is its text's
        return "text"
    if isinstance(type_, sa.Boolean):
        return "bool"
    if isinstance(type_, sa.DateTime):
        return "timestamptz" if type_.timezone else None
    for integer, name in _INTEGERS:
        if isinstance(type_, integer):
            return name
    return None


# Most specific first: BigInteger and SmallInteger are Integers.
_INTEGERS = ((sa.BigInteger, "int8"), (sa.SmallInteger, "int2"), (sa.Integer, "int4"))


def _copy_into(connection, statement: str, types: tuple | None, parameters: list[tuple]) -> None:
    """Run a COPY ... FROM STDIN of the rows, in the connection's transaction. In the binary
    format `types` name each column's type; in the text format each value is encoded by its
    Python type, as the INSERT's parameters would be, and cast by the column's type."""
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            if types:
                copy.set_types(list(types))
            for row in parameters:
                copy.write_row(row)
    finally:
        cursor.close()


def _names(preparer, columns) -> str:
    return ", ".join(preparer.quote(column) for column in columns)


def upsert_many(session, table: sa.Table, columns: tuple, rows: list[tuple], keys: tuple) -> None:
    """INSERT rows of `columns`, or UPDATE the other columns of the row already stored with
    the same `keys` (a unique constraint), in the session's transaction.

    Values go to the driver as they are (no column type conversion); no two rows may share
    their keys. On PostgreSQL (psycopg), many rows are copied into a temporary table and
    upserted from there by one statement.
    """
    if not rows:
        return
    connection = session.connection()
    if _copies(connection, len(rows)):
        _upsert_by_copy(connection, table, columns, rows, keys)
        return
    sql, named = _upsert_statement(connection.dialect, table, columns, keys)
    parameters = [dict(zip(columns, row, strict=True)) for row in rows] if named else rows
    connection.exec_driver_sql(sql, parameters)


@lru_cache(maxsize=16)
def _upsert_statement(dialect, table: sa.Table, columns: tuple, keys: tuple) -> tuple[str, bool]:
    """(sql, whether it takes named parameters) of an executemany upsert."""
    module = postgresql if dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in columns if name not in keys},
    )
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    if compiled.positional and tuple(compiled.positiontup) != columns:
        raise RuntimeError(f"unexpected upsert parameter order: {compiled.positiontup}")
    return compiled.string, not compiled.positional


def _upsert_by_copy(connection, table: sa.Table, columns: tuple, rows: list, keys: tuple):
    create, copy, types, upsert, empty = _upsert_by_copy_sql(
        connection.dialect, table, columns, keys
    )
    connection.exec_driver_sql(create)
    _copy_into(connection, copy, types, rows)
    connection.exec_driver_sql(upsert)
    connection.exec_driver_sql(empty)


@lru_cache(maxsize=16)
def _upsert_by_copy_sql(dialect, table: sa.Table, columns: tuple, keys: tuple) -> tuple:
    """(create the batch table, copy into it, the copy's binary types or None, upsert from it,
    empty it): what upsert_many runs."""
    preparer = dialect.identifier_preparer
    target = preparer.format_table(table)
    # A table of this session only, emptied after each use; no commit carries rows over either.
    batch = preparer.quote(f"{table.name}_batch")
    names = _names(preparer, columns)
    updates = ", ".join(
        f"{preparer.quote(column)} = excluded.{preparer.quote(column)}"
        for column in columns
        if column not in keys
    )
    types = binary_types(dialect, table, columns)
    # Only names from the table's own metadata, quoted by the dialect, go into the text.
    return (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {batch} (LIKE {target}) ON COMMIT DELETE ROWS",
        f"COPY {batch} ({names}) FROM STDIN" + (_BINARY if types else ""),
        types,
        f"INSERT INTO {target} ({names}) SELECT {names} FROM {batch}"  # noqa: S608
        f" ON CONFLICT ({_names(preparer, keys)}) DO UPDATE SET {updates}",
        f"DELETE FROM {batch}",  # noqa: S608
    )


def _changes(parameters: list[tuple], index: int, process) -> bool:
    """Whether `process` changes any value of the column at `index` (once per run of the same
    object, as _converted calls it)."""
    previous = _NOTHING
    for item in map(itemgetter(index), parameters):
        if item is not previous:
            previous = item
            if process(item) is not item:
                return True
    return False


def _converted(column: tuple, process) -> list:
    # Converted once per run of the same object: a chunk shares one timestamp.
    converted = []
    previous = value = _NOTHING
    for item in column:
        if item is not previous:
            previous, value = item, process(item)
        converted.append(value)
    return converted


_NOTHING = object()


@lru_cache(maxsize=64)
def _prepared(dialect, table: sa.Table, columns: tuple, by_id: bool):
    """An INSERT (or UPDATE by id): (sql, parameter order, (index, converter) pairs).

    None when the driver path would not write what Core writes.
    """
    if len(set(columns)) < 2:  # itemgetter of one name gives a value, not a tuple
        return None
    if leaves_out_defaults(table, columns, by_id):
        return None
    if dialect.paramstyle not in _PLACEHOLDERS:
        return None
    mark = _PLACEHOLDERS[dialect.paramstyle]
    quote = dialect.identifier_preparer.quote
    name = dialect.identifier_preparer.format_table(table)
    # Only names from the table's own metadata, quoted by the dialect, go into the text.
    if by_id:
        order = (*(column for column in columns if column != "id"), "id")
        assignments = ", ".join(f"{quote(column)} = {mark}" for column in order[:-1])
        sql = f"UPDATE {name} SET {assignments} WHERE {quote('id')} = {mark}"  # noqa: S608
    else:
        order = columns
        names = _names(dialect.identifier_preparer, order)
        marks = ", ".join(mark for _ in order)
        sql = f"INSERT INTO {name} ({names}) VALUES ({marks})"  # noqa: S608
    processors = (_bind_processor(dialect, table.c[column]) for column in order)
    conversions = tuple((index, p) for index, p in enumerate(processors) if p is not None)
    return sql, order, conversions


def leaves_out_defaults(table: sa.Table, columns, by_id: bool = False) -> bool:
    """Whether `columns` leave out one with a Python-side default (onupdate for an UPDATE).

    SQL written below Core would store NULL there: such rows must take the Core path.
    """
    given = set(columns)
    return any(
        (column.onupdate if by_id else column.default) is not None and column.name not in given
        for column in table.columns
    )


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _bind_processor(dialect, column: sa.Column):
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is not None and _uuid_as_text(dialect, column.type):
        return _hex_taken_as_is(process)
    return process


def _uuid_as_text(dialect, type_) -> bool:
    if not isinstance(type_, sa.Uuid):
        return False
    return type_.as_uuid and not (dialect.supports_native_uuid and type_.native_uuid)


def _hex_taken_as_is(process):
    """The UUID type's conversion to 32 hex digits, taking new_ids's text as it is."""

    def convert(value):
        if value.__class__ is str and len(value) == 32:
            return value
        return process(value)  # what Core does, and refuses

    return convert


def _core_statement(table: sa.Table, by_id: bool):
    if by_id:
        return table.update().where(table.c.id == sa.bindparam("row_id"))
    return table.insert()


def _core_rows(rows: list[dict], by_id: bool) -> list[dict]:
    return [{**row, "row_id": row["id"]} for row in rows] if by_id else rows


# --- reading rows by many keys ---------------------------------------------------------------


@dataclass(frozen=True)
class Among:
    """A SELECT of the rows whose key column is among the values bound to `keys`, in the two
    spellings that rows_among chooses from, built once."""

    listed: sa.Select  # key IN (...): the list rendered and bound value by value
    array: sa.Select  # key = ANY(:keys): one array parameter (PostgreSQL)


def among(query: sa.Select, column) -> Among:
    """`query` narrowed to the rows whose `column` is among :keys (see rows_among)."""
    listed = query.where(column.in_(sa.bindparam("keys", expanding=True)))
    keys = sa.bindparam("keys", type_=postgresql.ARRAY(column.type))
    return Among(listed, query.where(column == sa.any_(keys)))


# Keys per statement: a list stays under SQLite's 32,766 parameters with room for others and
# keeps plans small; an array is one parameter, sent and parsed in C.
LISTED_KEYS = 500
ARRAY_KEYS = 10_000


def rows_among(session, query: Among, keys: list, **values) -> Iterator[sa.Row]:
    """The rows of `query` whose key is among `keys` (distinct: a key listed twice may come
    back twice), `values` bound to the query's other parameters.

    On PostgreSQL the keys go as one array per statement: SQLAlchemy renders an IN list and
    binds its values one by one, which costs the calling process about three times the CPU of
    the whole query with an array (500 keys: 5.7 µs a key, 1.9 with an array). Run on the
    session's connection, as Core: the session is not flushed first.
    """
    connection = session.connection()
    statement = spelled_for(connection.dialect, query)
    size = ARRAY_KEYS if statement is query.array else LISTED_KEYS
    for start in range(0, len(keys), size):
        yield from connection.execute(statement, {**values, "keys": keys[start : start + size]})


def spelled_for(dialect, query: Among) -> sa.Select:
    """The spelling of `query` this database takes: the array on PostgreSQL, else the list.

    For a caller that binds a bounded number of keys itself, such as an ORM query of a page's
    rows (a list stays under SQLite's 32,766 parameters).
    """
    return query.array if dialect.name == "postgresql" else query.listed
