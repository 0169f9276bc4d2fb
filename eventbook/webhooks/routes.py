from flask.views import MethodView
from flask_jwt_extended import current_user

from eventbook.api import Blueprint
from eventbook.webhooks import changes
from eventbook.webhooks.schemas import ChangeListArgs, ChangePageSchema

changes_blp = Blueprint(
    "changes", __name__, url_prefix="/changes", description="The changes of your events."
)


@changes_blp.route("")
class Changes(MethodView):
    @changes_blp.login_required
    @changes_blp.arguments(ChangeListArgs, location="query")
    @changes_blp.response(200, ChangePageSchema)
    @changes_blp.documents(changes.InvalidCursor)
    @changes_blp.doc(operationId="listChanges")
    def get(self, args):
        """Read the changes of the events you organise, oldest first.

        Follow `next_cursor` (pass it as `after`) to read on: every change
        appears exactly once, even when transactions commit out of order,
        and the changes of one event appear in the order they happened.
        Changes are kept for 7 days.
        """
        page, cursor = changes.list_changes(current_user.id, args.get("after"), args["limit"])
        return {"changes": page, "next_cursor": cursor}
