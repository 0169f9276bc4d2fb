"""Pages of rows with the number of all matches, in one round trip."""

from typing import Any, NamedTuple

from sqlalchemy import func, select, tuple_

from eventbook.extensions import db


class Page(NamedTuple):
    items: list
    total: int
    # The ordering values of the last row when more rows follow, else None.
    next_key: Any


def page_with_total(entity, filters, order_by, skip, limit, total=None, after=None):
    """Return a page of the rows of `entity` with the number of all matches.

    The page is chosen on the primary key alone, in a subquery the database
    can answer from an index, and only its rows are then read in full: a page
    far down the list costs little more than the first. The number of matches
    comes back with the page, as a column computed once: by counting the
    matches, unless `total`, a statement selecting it, is given.

    :param order_by: ascending columns that order the rows without ties.
    :param after: the `order_by` values of a row: the page starts right
        after it (keyset paging), rather than `skip` rows in. Rows added or
        removed before it move nothing, so no row is skipped or repeated.
    :returns: a `Page`; its `next_key` is where the next page starts.
    """
    page_filters = list(filters)
    if after is not None:
        page_filters.append(tuple_(*order_by) > tuple(after))
    # One row more than the page shows whether another page follows.
    page_ids = (
        select(entity.id).where(*page_filters).order_by(*order_by).offset(skip).limit(limit + 1)
    )
    if total is None:
        total = select(func.count()).select_from(entity).where(*filters)
    rows = db.session.execute(
        select(entity, total.scalar_subquery()).where(entity.id.in_(page_ids)).order_by(*order_by)
    ).all()
    if not rows:  # past the last page: nothing carried the number
        return Page([], db.session.scalar(total), None)
    items = [row[0] for row in rows[:limit]]
    next_key = None
    if len(rows) > limit:
        next_key = tuple(getattr(items[-1], column.key) for column in order_by)
    return Page(items, rows[0][1], next_key)
