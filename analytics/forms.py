from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from analytics.dashboards.base import Scope
from analytics.models import ScoreSettings
from loyalty.forms import DateRangeForm, RuleChangeForm
from stores.models import Store


class DashboardFilterForm(DateRangeForm):
    """The period, and a store or a region, within the stores the reader may see (None: all).

    Stores and regions come from one query of the stores (with their regions): a region without a
    store has nothing to show.
    """

    store = forms.TypedChoiceField(label=capfirst(_("store")), coerce=int, required=False, empty_value=None)
    region = forms.TypedChoiceField(label=capfirst(_("region")), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, allowed_store_ids: frozenset[int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_store_ids = allowed_store_ids
        stores = Store.objects.select_related("region").order_by("code")
        if allowed_store_ids is not None:
            stores = stores.filter(pk__in=sorted(allowed_store_ids))
        stores = list(stores)
        self.region_stores: dict[int, set[int]] = {}
        regions = {}
        for store in stores:
            if store.region_id is not None:
                regions[store.region_id] = store.region
                self.region_stores.setdefault(store.region_id, set()).add(store.pk)
        self.fields["store"].choices = [("", _("All stores")), *((s.pk, str(s)) for s in stores)]
        if allowed_store_ids is not None:
            # A store manager picks among their stores; regions would only repeat them.
            del self.fields["region"]
        else:
            ordered = sorted(regions.values(), key=lambda r: r.code)
            self.fields["region"].choices = [("", _("All regions")), *((r.pk, r.name) for r in ordered)]

    def scope(self) -> Scope:
        data = self.cleaned_data
        store_id, region_id = data.get("store"), data.get("region")
        if store_id is not None:
            ids = frozenset({store_id})
        elif region_id is not None:
            ids = frozenset(self.region_stores.get(region_id, ()))
        else:
            ids = self.allowed_store_ids
        if self.allowed_store_ids is not None and ids is not None:
            ids = ids & self.allowed_store_ids
        return Scope(start=data["start"], end=data["end"], store_ids=ids)


class ScoreSettingsForm(RuleChangeForm):
    """The churn rules' thresholds decide whom the churn report and win-back campaigns reach: a change says why."""

    class Meta:
        model = ScoreSettings
        fields = [
            "dormant_days",
            "gap_multiplier",
            "spend_window_days",
            "spend_drop_share",
            "p_alive_high",
            "p_alive_medium",
            "price_sensitive_share",
        ]

    def clean(self):
        cleaned = super().clean()
        changed = [name for name in self.changed_data if name != "change_reason"]
        if changed and not (cleaned.get("change_reason") or "").strip():
            self.add_error("change_reason", _("Say why the thresholds change; it is kept in the audit trail."))
        return cleaned
