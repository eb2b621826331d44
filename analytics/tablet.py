"""The tablet page of the analytics app: a store manager's staff figures at the tablet's store.

Store managers have no back-office login (DESIGN §5: "their stores' sales, refunds and staff figures"),
so the staff performance dashboard is also read on the tablet, limited to the store the tablet works at,
for a period (this month unless dates are given). The figures are the back office's: the same
dashboard's build, with the scope of one store.
"""

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _lazy

from analytics.dashboards import REGISTRY
from analytics.dashboards.base import Scope
from loyalty.forms import DateRangeForm
from stores.roles import Action
from stores.tablet import render_tablet, tablet_view

MENU_ENTRY = ("tablet:staff-figures", _lazy("Staff figures"), Action.VIEW_STORE_FIGURES)


@tablet_view(Action.VIEW_STORE_FIGURES)
def staff_figures(request: HttpRequest) -> HttpResponse:
    store = request.tablet_store
    # Always bound: no dates at all is this month.
    form = DateRangeForm(request.GET)
    board = table = None
    if form.is_valid():
        data = form.cleaned_data
        scope = Scope(start=data["start"], end=data["end"], store_ids=frozenset({store.pk}))
        board = REGISTRY["staff"].build(scope)
        table = board.table("staff")
    context = {"form": form, "board": board, "table": table, "figures": _figures(table)}
    return render_tablet(request, "tablet/staff_figures.html", context)


def _figures(table) -> list[dict]:
    """Each staff member's row by column key, for the template (the tablet shows fewer columns)."""
    if table is None:
        return []
    keys = [c.key for c in table.columns]
    return [dict(zip(keys, row, strict=True)) for row in table.rows]
