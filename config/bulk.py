"""Fast inserts of many rows: one ``executemany`` of tuples instead of ``bulk_create``'s model objects.

``bulk_create`` builds a model instance per row and compiles every value through its field, which costs
about 40 µs a row; for tens of thousands of rows (a bank's correlations), or for the answers a run stores
while its requests are out, that is most of the time. :func:`insert_rows` sends the same INSERT with the
values as given, in one transaction with the caller's. Values of fields that need converting for the
database (JSON, dates and times, decimals …) go through the field's own ``get_db_prep_save``, so each
backend stores them as ``bulk_create`` would; plain values (numbers, strings, booleans, null, foreign key
ids) are sent as they are. The caller passes every column, in the order of ``fields``: defaults and
``auto_now_add`` are not filled in.
"""

from collections.abc import Iterable, Sequence

from django.db import connections, models, router
from django.db.models.constants import OnConflict

# Fields whose values the database drivers take as they are (get_db_prep_save converts nothing more).
_PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.BooleanField,
                 models.ForeignKey)


def insert_rows(model, fields: Sequence[str], rows: Iterable[Sequence], *, chunk: int = 5000,
                ignore_conflicts: bool = False) -> int:
    """Insert ``rows`` (tuples in the order of ``fields``, attribute names) into ``model``'s table; the rows sent.

    ``ignore_conflicts``: a row that would break a unique constraint is skipped, as ``bulk_create(...,
    ignore_conflicts=True)`` skips it (``INSERT OR IGNORE`` / ``ON CONFLICT DO NOTHING``).
    """
    database = router.db_for_write(model)
    connection = connections[database]
    quote = connection.ops.quote_name
    model_fields = [model._meta.get_field(name) for name in fields]
    convert = [(index, field) for index, field in enumerate(model_fields) if not isinstance(field, _PLAIN_FIELDS)]
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    placeholders = ", ".join(["%s"] * len(model_fields))
    suffix = connection.ops.on_conflict_suffix_sql(model_fields, on_conflict, None, None) if ignore_conflicts else ""
    # Table and column names come from the model (quoted), values are parameters: nothing from a user is spliced in.
    sql = (f"{connection.ops.insert_statement(on_conflict=on_conflict)} {quote(model._meta.db_table)} "  # noqa: S608
           f"({', '.join(quote(field.column) for field in model_fields)}) VALUES ({placeholders}) {suffix}").rstrip()

    def prepared(row: Sequence) -> tuple:
        if not convert:
            return tuple(row)
        values = list(row)
        for index, field in convert:
            values[index] = field.get_db_prep_save(values[index], connection)
        return tuple(values)

    count = 0
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(prepared(row))
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                count, batch = count + len(batch), []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count
