import json

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs a full COUNT(*) over a big table.

    It counts exactly up to ADMIN_EXACT_COUNT_LIMIT rows (a COUNT over a LIMIT subquery, cheap at
    any size). Past that, on PostgreSQL it takes the planner's estimate of the same query, which
    is what a person paging through "about 1,000,000 members" needs. SQLite (the embedded mode,
    small by nature) keeps the exact count.
    """

    is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        limit = settings.ADMIN_EXACT_COUNT_LIMIT
        unordered = queryset.order_by()
        capped = unordered[: limit + 1].count()
        if capped <= limit:
            return capped
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return unordered.count()
        sql, params = unordered.values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        self.is_estimate = True
        return max(int(plan[0]["Plan"]["Plan Rows"]), capped)
