"""A manager's review of the sales that an offline till recorded differently from how it rang them up."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.models import Sale
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

MAX_NOTE = 500


@transaction.atomic
def sale_review_resolve(*, sale: Sale, actor, note: str) -> Sale:
    require_staff_can(actor, Action.REVIEW_SALES, sale.store)
    note = (note or "").strip() if isinstance(note, str) else ""
    if not note:
        raise _error("note", _("Say what was done about this sale."), "note_required")
    if len(note) > MAX_NOTE:
        raise _error("note", _("A note has at most %(max)d characters."), "note_too_long", max=MAX_NOTE)
    now = timezone.now()
    # Conditional: two managers resolving at once, only one of them does.
    updated = Sale.objects.filter(pk=sale.pk, review_state=Sale.ReviewState.PENDING).update(
        review_state=Sale.ReviewState.RESOLVED, reviewed_by=actor, reviewed_at=now, review_note=note
    )
    if updated != 1:
        raise _error("sale", _("This sale is not waiting for a review."), "not_pending")
    sale.review_state, sale.reviewed_by, sale.reviewed_at, sale.review_note = (
        Sale.ReviewState.RESOLVED,
        actor,
        now,
        note,
    )
    audit_record(
        actor=actor,
        action="sale.review_resolved",
        target=sale,
        store=sale.store,
        reason=note,
        data={"reasons": sale.review_reasons, "unsettled": str(sale.unsettled_amount)},
    )
    return sale
