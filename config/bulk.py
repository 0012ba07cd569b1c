"""Fast inserts of many plain rows: one ``executemany`` of tuples instead of ``bulk_create``'s model objects.

``bulk_create`` builds a model instance per row and prepares every value through its field, which costs
about 40 µs a row; for tens of thousands of rows of plain values (numbers, short strings, booleans,
null) that is most of an import's time. :func:`insert_rows` sends the same INSERT with the values as
given, in one transaction with the caller's. It is for rows whose values need no conversion (no dates,
no JSON, no defaults to fill in): the caller passes every column, in the order of ``fields``.
"""

from collections.abc import Iterable, Sequence

from django.db import connections, router


def insert_rows(model, fields: Sequence[str], rows: Iterable[Sequence], *, chunk: int = 5000) -> int:
    """Insert ``rows`` (tuples in the order of ``fields``, attribute names) into ``model``'s table; the count."""
    database = router.db_for_write(model)
    connection = connections[database]
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name).column for name in fields]
    placeholders = ", ".join(["%s"] * len(columns))
    # Table and column names come from the model (quoted), values are parameters: nothing from a user is spliced in.
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
           f"VALUES ({placeholders})")
    count = 0
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(tuple(row))
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                count, batch = count + len(batch), []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count
