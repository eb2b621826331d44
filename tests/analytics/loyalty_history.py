"""A small loyalty history built through the real services, and the checks every dashboard's tests
repeat (access, export, a query count that does not grow with the rows)."""

import uuid
from decimal import Decimal

from django.urls import reverse

from loyalty.services import LineInput, TenderInput, points_adjust, sale_checkout, sale_refund, wallet_top_up
from stores.models import AuditEntry


def rid() -> str:
    return str(uuid.uuid4())


def sell(chain, member, amount, *, store=None, points=0, stored_value=0, category="饮品"):
    """A sale of ¥amount at store A (or `store`), paid with `points`, `stored_value` and cash for the rest."""
    store = store or chain.store_a
    cashier = chain.cashier_a if store == chain.store_a else chain.cashier_b
    amount = Decimal(str(amount))
    points_value = Decimal(points) / 100
    cash = amount - points_value - Decimal(str(stored_value))
    tenders = [
        TenderInput(kind, value)
        for kind, value in (("cash", cash), ("stored_value", Decimal(str(stored_value))))
        if value
    ]
    return sale_checkout(
        request_id=rid(),
        store=store,
        cashier=cashier,
        member=member,
        lines=[LineInput(category=category, quantity=Decimal("1"), unit_price=amount)],
        tenders=tenders,
        points_to_redeem=points,
    )


def refund(chain, sale, amount=None):
    return sale_refund(
        request_id=rid(),
        sale=sale,
        actor=chain.hq_admin,
        reason="退货",
        amount=sale.total_due + sale.points_value if amount is None else Decimal(str(amount)),
    )


def give_points(chain, member, points, reason="补发"):
    return points_adjust(request_id=rid(), member=member, points=points, reason=reason, actor=chain.hq_admin)


def top_up(chain, member, amount, *, store=None, package=None):
    store = store or chain.store_a
    staff = chain.cashier_a if store == chain.store_a else chain.cashier_b
    return wallet_top_up(
        request_id=rid(),
        member=member,
        store=store,
        staff=staff,
        tender="cash",
        package=package,
        amount=None if package else Decimal(str(amount)),
    )


def board(client, user, slug, start, end, **extra):
    client.force_login(user)
    response = client.get(reverse("analytics_dashboard", args=[slug]), {"start": start, "end": end, **extra})
    assert response.status_code == 200
    return response.context["board"]


def figures(board) -> dict:
    return {str(f.label): f.value for f in board.figures}


def rows(board, key) -> list[list]:
    return board.table(key).rows


# The page's own queries: the session, the user, their groups, the stores of the filter.
PAGE_QUERIES = 4


def assert_page_queries(client, assert_num_queries, user, slug, start, end, build_queries):
    """The page costs its own queries and the build's `build_queries`, whatever the history."""
    client.force_login(user)
    url = reverse("analytics_dashboard", args=[slug])
    with assert_num_queries(PAGE_QUERIES + build_queries):
        assert client.get(url, {"start": start, "end": end}).status_code == 200


def assert_marketer_exports_and_others_may_not(client, chain, slug, table, start, end):
    client.force_login(chain.marketer)
    url = reverse("analytics_dashboard", args=[slug])
    for fmt in ("csv", "xlsx"):
        response = client.get(url, {"start": start, "end": end, "format": fmt, "table": table})
        assert response.status_code == 200, fmt
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body
    exports = AuditEntry.objects.filter(action="analytics.dashboard_exported").order_by("pk")
    assert [(e.data["dashboard"], e.data["table"], e.data["format"]) for e in exports] == [
        (slug, table, "csv"),
        (slug, table, "xlsx"),
    ]
    for user in (chain.manager_a, chain.cashier_a):
        client.force_login(user)
        # A manager is refused; a cashier, who has no back-office account, is sent to the admin's login.
        page = client.get(url, {"start": start, "end": end})
        assert page.status_code in (302, 403) and "board" not in (page.context or {})
        export = client.get(url, {"start": start, "end": end, "format": "csv", "table": table})
        assert export.status_code in (302, 403)
    assert AuditEntry.objects.filter(action="analytics.dashboard_exported").count() == 2
