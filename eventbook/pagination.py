"""Pages of rows with the number of all matches, in one round trip."""

from typing import Any, NamedTuple

from sqlalchemy import func, select, tuple_

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


def page_with_total(entity, filters, order_by, skip, limit, total=None, after=None):
    """Return a page of the rows of `entity` with the number of all matches.

    A page `DEFERRED_JOIN_FROM` rows or more down the list is chosen on the
    primary key alone, in a subquery the database can answer from an index,
    and only its rows are then read in full: a page far down the list costs
    little more than the first. A page nearer the top is read directly, in
    the simpler statement (on PostgreSQL, the deferred join costs about
    0.15 ms more to plan and run there, which skipping few rows never repays).
    The number of matches comes back with the page, as a column computed
    once: by counting the matches, unless `total`, a statement selecting it,
    is given.

    :param order_by: ascending columns that order the rows without ties.
    :param after: the `order_by` values of a row: the page starts right
        after it (keyset paging), rather than `skip` rows in. Rows added or
        removed before it move nothing, so no row is skipped or repeated.
    :returns: a `Page`; its `next_key` is where the next page starts.
    """
    page_filters = list(filters)
    if after is not None:
        page_filters.append(tuple_(*order_by) > tuple(after))
    if total is None:
        total = select(func.count()).select_from(entity).where(*filters)
    # One row more than the page shows whether another page follows.
    if skip >= DEFERRED_JOIN_FROM:
        page_ids = (
            select(entity.id).where(*page_filters).order_by(*order_by).offset(skip).limit(limit + 1)
        )
        statement = select(entity, total.scalar_subquery()).where(entity.id.in_(page_ids))
    else:
        statement = select(entity, total.scalar_subquery()).where(*page_filters).offset(skip)
        statement = statement.limit(limit + 1)
    rows = db.session.execute(statement.order_by(*order_by)).all()
    if not rows:  # past the last page: nothing carried the number
        return Page([], db.session.scalar(total), None)
    items = [row[0] for row in rows[:limit]]
    next_key = None
    keys = [getattr(column, "key", None) for column in order_by]
    # Only an order on plain columns (not a computed one) can be resumed from.
    if len(rows) > limit and all(keys):
        next_key = tuple(getattr(items[-1], key) for key in keys)
    return Page(items, rows[0][1], next_key)
