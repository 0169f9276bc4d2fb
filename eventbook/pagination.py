"""Pages of rows with the number of all matches, in one round trip.

A page's statement is built once per shape (which filters, which order,
read directly or by ids first, resumed from a cursor or not) with its
values as bind parameters: SQLAlchemy compiles a statement once, but a
statement built anew has its cache key worked out again on every
execution, which costs more than running it (measured: 0.3 ms of a 1.4 ms
list of 20 events).
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, func, select, tuple_

from eventbook.extensions import db

# From this many skipped rows on, a page is chosen by its ids first (a
# deferred join); measured on PostgreSQL with 10,000 events, the direct
# statement's cost (planning included) passes the deferred join's at about
# 300 skipped rows.
DEFERRED_JOIN_FROM = 256


class Page(NamedTuple):
    items: list
    total: int
    # The ordering values of the last row when more rows follow, else None.
    next_key: Any


class PageQuery(NamedTuple):
    """The statements of one shape of page; see `page_query`."""

    # Rows of the entity, each with the number of matches beside it.
    page: Select
    # The number of matches alone (for a page past the last one).
    total: Select
    # The order's columns when a page can be resumed after a row, else None.
    keys: tuple | None
    # Builds an item from a row's columns (the number of matches left out).
    item: Callable[[Sequence], Any]


def page_query(row_class, filters, order_by, deferred, resumed, total=None):
    """Return the `PageQuery` of a page of rows of one table; build it once per shape.

    Rows are read into `row_class`, a named tuple of the table's columns
    with those columns as `row_class.columns` (as `EventRow`). The page's
    bind parameters are `skip` and `limit` (rows to return: one more than
    the page shows tells whether another follows) and, `resumed`,
    `after_0` ... `after_n`, the `order_by` values of the row the page
    starts right after (keyset paging: rows added or removed before it move
    nothing, so no row is skipped or repeated). Values in `filters` should
    be bind parameters too, or each value makes another shape.

    `deferred`: the page is chosen on the primary key alone, in a subquery
    the database can answer from an index, and only its rows are then read
    in full: a page far down the list costs little more than the first.
    Nearer the top the direct statement is cheaper (on PostgreSQL, the
    deferred join costs about 0.15 ms more to plan and run).

    :param order_by: ascending columns that order the rows without ties.
    :param total: a statement selecting the number of matches; by default
        the matches are counted.
    """
    columns = row_class.columns
    table = columns[0].table
    (identity,) = table.primary_key.columns
    page_filters = list(filters)
    if resumed:
        after = [bindparam(f"after_{i}", type_=column.type) for i, column in enumerate(order_by)]
        page_filters.append(tuple_(*order_by) > tuple_(*after))
    if total is None:
        total = select(func.count()).select_from(table).where(*filters)
    skip, limit = bindparam("skip"), bindparam("limit")
    # The number of matches rides on every row, after the row's own columns.
    if deferred:
        page_ids = select(identity).where(*page_filters).order_by(*order_by)
        chosen = identity.in_(page_ids.offset(skip).limit(limit))
        page = select(*columns, total.scalar_subquery()).where(chosen)
    else:
        page = select(*columns, total.scalar_subquery()).where(*page_filters)
        page = page.offset(skip).limit(limit)
    keys = tuple(getattr(column, "key", None) for column in order_by)
    # Only an order on plain columns (not a computed one) can be resumed from.
    return PageQuery(page.order_by(*order_by), total, keys if all(keys) else None, row_class._make)


def read_page(query, params, skip, limit, after=None):
    """Run a `PageQuery` with its filters' `params`; return a `Page`.

    :param after: the order's values of the row to start right after, for
        a query built `resumed`.
    :returns: a `Page`; its `next_key` is where the next page starts.
    """
    params = {**params, "skip": skip, "limit": limit + 1}
    for i, value in enumerate(after or ()):
        params[f"after_{i}"] = value
    # On the session's connection: cheaper than `Session.execute` (see `EventRow.read`).
    connection = db.session.connection()
    rows = connection.execute(query.page, params).all()
    if not rows:  # past the last page: nothing carried the number
        return Page([], connection.scalar(query.total, params), None)
    items = [query.item(row[:-1]) for row in rows[:limit]]
    next_key = None
    if len(rows) > limit and query.keys is not None:
        next_key = tuple(getattr(items[-1], key) for key in query.keys)
    return Page(items, rows[0][-1], next_key)
