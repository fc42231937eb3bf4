"""Set-based writes that Django's ORM spends more time building than the database spends running.

rows_update: one UPDATE for many rows that each get their own values; bulk_update builds a CASE per field and row
instead. rows_insert: many rows at once when their ids are not needed back. rows_insert_returning: many rows
at once, their new ids set on the objects. rows_insert_together: a few rows of several tables in one statement.

On PostgreSQL an update sends each column as one array parameter (`unnest(%s::bigint[], …)`), so the statement
stays a few placeholders long whatever the number of rows and psycopg parses it once and caches it, where a VALUES
list of rows × columns placeholders is parsed anew on every call (profiled: a third of reconcile's local time);
an insert is a COPY. Values psycopg takes as they are (integers, text, UUIDs, aware datetimes, None) go to it
unchanged; only the others (naive datetimes, lazy text) go through their field's preparation, which profiled as
half of a COPY's time, and a COPY's JSON values are written by orjson. SQLite (3.33 or newer) gets
UPDATE … FROM (VALUES …) and a multi-row INSERT.
"""

import uuid
from datetime import datetime

import orjson
from django.db import connections, router
from django.db.models import JSONField

JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# Types psycopg adapts exactly as Django's field preparation would leave them.
_PLAIN = frozenset({int, str, bool, uuid.UUID, type(None)})


def rows_update(model, objs: list, fields: list[str], *, batch_size: int = 500) -> None:
    """Write `fields` of each object to its row (by primary key), in one statement per batch."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    columns = [model._meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql":
        _pg_rows_update(connection, model, objs, columns)
        return
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    assignments = ", ".join(f"{quote(f.column)} = v.column{i + 2}" for i, f in enumerate(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            params = []
            for obj in chunk:
                params.append(obj.pk)
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
            values = ", ".join([row] * len(chunk))
            sql = f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v WHERE {table}.{pk} = v.column1"  # noqa: S608 - names from the model, values as parameters
            cursor.execute(sql, params)


def rows_insert(model, objs: list, *, batch_size: int = 500) -> None:
    """Insert the objects (their ids are not read back), filling auto_now_add fields as save() would."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [f for f in model._meta.concrete_fields if not f.primary_key]
    if connection.vendor == "postgresql":
        _pg_rows_insert(connection, model, objs, columns)
        return
    names = ", ".join(quote(f.column) for f in columns)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in chunk for f in columns]
            values = ", ".join([row] * len(chunk))
            sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES {values}"  # noqa: S608 - names from the model, values as parameters
            cursor.execute(sql, params)


def rows_insert_returning(model, objs: list) -> None:
    """Insert the objects and set each one's new primary key, as bulk_create does; on PostgreSQL one
    INSERT … SELECT FROM unnest(one array per column) … RETURNING, its values handed over as they are."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, batch_size=500)
        return
    quote = connection.ops.quote_name
    columns = [f for f in model._meta.concrete_fields if not f.primary_key]
    arrays = _pg_column_values(connection, columns, objs, add=True)
    names = ", ".join(quote(f.column) for f in columns)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT * FROM {_unnest(columns, connection)} "  # noqa: S608 - names from the model
        f"RETURNING {quote(model._meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias


# Up to this many rows per table, rows_insert_together writes several tables in one INSERT statement on
# PostgreSQL (one round trip, where a COPY per table costs two each); beyond it, a COPY per table.
TOGETHER_MAX_ROWS = 50


def rows_insert_together(groups: list[tuple]) -> None:
    """Insert rows of several tables: [(model, objs), ...]. On PostgreSQL, when each table has a few rows (a
    change and what it says about itself: its audit and outbox rows), in a single statement (data-modifying WITH),
    so that they cost one round trip; otherwise as rows_insert does, table by table."""
    groups = [(model, objs) for model, objs in groups if objs]
    if not groups:
        return
    connection = connections[router.db_for_write(groups[0][0])]
    if connection.vendor != "postgresql" or any(len(objs) > TOGETHER_MAX_ROWS for _, objs in groups):
        for model, objs in groups:
            rows_insert(model, objs)
        return
    statements, params = [], []
    for model, objs in groups:
        quote = connection.ops.quote_name
        columns = [f for f in model._meta.concrete_fields if not f.primary_key]
        names = ", ".join(quote(f.column) for f in columns)
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        params += [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objs for f in columns]
        values = ", ".join([row] * len(objs))
        statements.append(f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES {values}")  # noqa: S608 - names from the model, values as parameters
    ahead = ", ".join(f"written_{i} AS ({sql})" for i, sql in enumerate(statements[:-1]))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {ahead} {statements[-1]}" if ahead else statements[-1], params)


def id_in(column: str, ids: list[int]) -> tuple[str, list]:
    """SQL saying that `column` is one of `ids` (not empty), and its parameters. On PostgreSQL one array parameter,
    so that the statement's text is the same however many ids; elsewhere a placeholder per id."""
    if connections["default"].vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _pg_rows_update(connection, model, objs: list, columns: list) -> None:
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), model._meta.pk
    arrays = [[obj.pk for obj in objs], *_pg_column_values(connection, columns, objs, add=False)]
    names = ["pk"] + [f"c{i}" for i in range(len(columns))]
    unnest = _unnest([pk] + columns, connection)
    assignments = ", ".join(f"{quote(f.column)} = v.c{i}" for i, f in enumerate(columns))
    sql = (
        f"UPDATE {table} SET {assignments} FROM {unnest} AS v({', '.join(names)}) "  # noqa: S608 - names from the model
        f"WHERE {table}.{quote(pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def _pg_rows_insert(connection, model, objs: list, columns: list) -> None:
    """COPY … FROM STDIN: psycopg formats the rows in C, and the server parses no INSERT at all."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"  # noqa: S608 - names from the model
        ) as copy,
    ):
        for row in zip(*_pg_column_values(connection, columns, objs, add=True, json_text=True), strict=True):
            copy.write_row(row)


def _pg_column_values(connection, columns: list, objs: list, *, add: bool, json_text: bool = False) -> list[list]:
    """Each column's values for psycopg, one list per column: as they are when psycopg takes them unchanged,
    through the field's preparation otherwise. `add`: filled as an insert would (auto_now_add, auto_now).
    `json_text`: JSON values as their text (what COPY reads)."""
    values = []
    for field in columns:
        stamped = add and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
        raw = (
            [field.pre_save(obj, add=True) for obj in objs]
            if stamped
            else [getattr(obj, field.attname) for obj in objs]
        )
        if isinstance(field, JSONField) and json_text and field.encoder is None:
            values.append([_json_text(field, v, connection) for v in raw])
        elif isinstance(field, JSONField):
            values.append([field.get_db_prep_save(v, connection) for v in raw])
        else:
            values.append([v if _plain(v) else field.get_db_prep_save(v, connection) for v in raw])
    return values


def _json_text(field, value, connection):
    """A JSON value as text. orjson writes what the standard library's encoder would for text, numbers, booleans,
    None, lists and dicts (keys made text) several times faster (profiled: a tenth of reconcile's CPU); anything
    else (a datetime, a number beyond 64 bits) goes the field's own way, and fails there as it would have."""
    if value is None:
        return None  # SQL NULL, as the field stores None
    try:
        return orjson.dumps(value, option=JSON_OPTIONS).decode()
    except TypeError:
        return field.get_db_prep_save(value, connection)


def _plain(value) -> bool:
    kind = type(value)
    return kind in _PLAIN or (kind is datetime and value.tzinfo is not None)


def _unnest(columns: list, connection) -> str:
    """unnest(%s::type[], …): one typed array per column (a JSON column's values travel as text and are cast)."""
    return "unnest(" + ", ".join(f"%s::{_array_type(f, connection)}[]" for f in columns) + ")"


def _array_type(field, connection) -> str:
    return field.cast_db_type(connection)
