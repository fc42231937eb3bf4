"""Set-based writes that Django's ORM spends more time building than the database spends running.

rows_update: one UPDATE for many rows that each get their own values, UPDATE … FROM (VALUES …), on PostgreSQL
and SQLite (3.33 or newer); bulk_update builds a CASE per field and row instead. rows_insert: one multi-row
INSERT when the new rows' ids are not needed back.
"""

from django.db import connections, router


def rows_update(model, objs: list, fields: list[str], *, batch_size: int = 500) -> None:
    """Write `fields` of each object to its row (by primary key), in one statement per batch."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    columns = [model._meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql":
        # VALUES has no column types of its own: NULLs and text would not fit a timestamp column otherwise.
        row = "(%s, " + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in columns) + ")"
    else:
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
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            cursor.execute(*_insert(model, objs[start : start + batch_size], connection))


def rows_insert_together(groups: list[tuple], *, batch_size: int = 500) -> None:
    """Insert rows of several tables: [(model, objs), ...]. On PostgreSQL, when each fits one batch, in a single
    statement (data-modifying WITH), so that a change and what it says about itself cost one round trip."""
    groups = [(model, objs) for model, objs in groups if objs]
    if not groups:
        return
    connection = connections[router.db_for_write(groups[0][0])]
    if connection.vendor != "postgresql" or len(groups) == 1 or any(len(objs) > batch_size for _, objs in groups):
        for model, objs in groups:
            rows_insert(model, objs, batch_size=batch_size)
        return
    statements, params = [], []
    for model, objs in groups:
        sql, values = _insert(model, objs, connection)
        statements.append(sql)
        params += values
    ahead = ", ".join(f"written_{i} AS ({sql})" for i, sql in enumerate(statements[:-1]))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {ahead} {statements[-1]}", params)


def _insert(model, objs: list, connection) -> tuple[str, list]:
    quote = connection.ops.quote_name
    columns = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = ", ".join(quote(f.column) for f in columns)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objs for f in columns]
    values = ", ".join([row] * len(objs))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES {values}"  # noqa: S608 - names from the model, values as parameters
    return sql, params
