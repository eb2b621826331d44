from django.db.models import QuerySet

from stores.models import Store
from stores.permissions import staff_access


def stores_for_staff(user) -> QuerySet[Store]:
    """The active stores where the user may act at the till."""
    access = staff_access(user)
    stores = Store.objects.filter(is_active=True).select_related("region").order_by("code")
    if access.chain_wide:
        return stores
    return stores.filter(pk__in=access.store_ids)
