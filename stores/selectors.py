from django.db.models import Exists, OuterRef, Q, QuerySet

from stores.models import IntegrationToken, Store
from stores.permissions import staff_access


def stores_for_staff(user) -> QuerySet[Store]:
    """The active stores where the user may act at the till."""
    access = staff_access(user)
    stores = Store.objects.filter(is_active=True).select_related("region").order_by("code")
    if access.chain_wide:
        return stores
    return stores.filter(pk__in=access.store_ids)


def done_in_person(user_field: str) -> Q:
    """Rows whose `user_field` (a ForeignKey to the user) is a person at a till or in the back office.

    An integration (an existing POS, the online mall, a mini-program) signs in with an API token
    (DESIGN §9: token auth for integrations, session auth for people), so a login that holds a token,
    even an expired or revoked one, is an integration account: what it records is no one's performance,
    though it stays recorded as who did it (the audit trail)."""
    tokens = IntegrationToken.objects.filter(user_id=OuterRef(f"{user_field}_id"))
    return Q(**{f"{user_field}__isnull": False}) & ~Exists(tokens)
