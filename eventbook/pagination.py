"""Pages of rows with the number of all matches, in one round trip."""

from sqlalchemy import func, select

from eventbook.extensions import db


def page_with_total(entity, filters, order_by, skip, limit, total=None):
    """Return the rows of `entity` on one page, and how many rows match in all.

    The page is chosen on the primary key alone, in a subquery the database
    can answer from an index, and only its rows are then read in full: a page
    far down the list costs little more than the first. The number of matches
    comes back with the page, as a column computed once: by counting the
    matches, unless `total`, a statement selecting it, is given.
    """
    page_ids = select(entity.id).where(*filters).order_by(*order_by).offset(skip).limit(limit)
    if total is None:
        total = select(func.count()).select_from(entity).where(*filters)
    rows = db.session.execute(
        select(entity, total.scalar_subquery()).where(entity.id.in_(page_ids)).order_by(*order_by)
    ).all()
    if not rows:  # past the last page: nothing carried the number
        return [], db.session.scalar(total)
    return [row[0] for row in rows], rows[0][1]
