"""Input and output of the service-card endpoints. Shapes and types only; the rules live in the services.

Uses travel as strings with two decimals ("1.50": lesson hours may be fractional); a period card has no
uses (null) and may have a cap per day or week.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.api.serializers import (
    INT32_MAX,
    MAX_TENDERS_ACCEPTED,
    ApproverInputSerializer,
    BalancesMixin,
    SaleOutputSerializer,
    TenderInputSerializer,
    money_field,
    request_id_field,
)
from servicecards.models import CardEntry, CardProduct, MemberCard
from stores.names import staff_name


def uses_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=7, decimal_places=2, **kwargs)


class ServiceRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


# GET /card-products/


class CardProductOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Also the SKU of the card's sale line.")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CardProduct.Kind.choices)
    price = money_field()
    uses = uses_field(help_text="Uses or lesson hours bought; 0.00 for a period card.")
    bonus_uses = uses_field()
    cap_per_day = serializers.IntegerField(allow_null=True)
    cap_per_week = serializers.IntegerField(allow_null=True)
    validity_months = serializers.IntegerField(help_text="0: never expires.")
    valid_from = serializers.ChoiceField(choices=CardProduct.ValidFrom.choices)
    transferable = serializers.BooleanField()
    services = ServiceRefSerializer(many=True, source="services.all")
    stores = serializers.SerializerMethodField(help_text="Store codes where the card is usable; empty for all.")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_stores(self, product) -> list[str]:
        return [store.code for store in product.stores.all()]


# A member's card (summary, list, detail)


class MemberCardOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The card number (K + 11 digits).")
    member = serializers.CharField(source="member.code")
    product = serializers.CharField(source="product.code")
    name = serializers.CharField(source="product.name")
    kind = serializers.ChoiceField(choices=CardProduct.Kind.choices)
    status = serializers.ChoiceField(choices=MemberCard.Status.choices)
    uses_total = uses_field(allow_null=True, help_text="Bought + bonus; null for a period card.")
    uses_remaining = uses_field(allow_null=True, help_text="Null for a period card (unlimited within its caps).")
    uses_taken = uses_field()
    cap_per_day = serializers.IntegerField(allow_null=True)
    cap_per_week = serializers.IntegerField(allow_null=True)
    valid_until = serializers.DateField(
        allow_null=True, help_text="The last day it can be used; null if it never expires or starts at first use."
    )
    services = ServiceRefSerializer(many=True, source="product.services.all")
    store = serializers.CharField(source="store.code", help_text="Where it was sold.")
    sale = serializers.IntegerField(source="sale_id", allow_null=True)
    price_paid = money_field()
    purchased_at = serializers.DateTimeField()

    def to_representation(self, card):
        data = super().to_representation(card)
        if card.uses_remaining is None:
            data["uses_total"] = None
        return data


class MemberCardSummarySerializer(serializers.Serializer):
    """A card in the member summary: what a till needs to offer a use."""

    code = serializers.CharField()
    name = serializers.CharField(source="product.name")
    kind = serializers.ChoiceField(choices=CardProduct.Kind.choices)
    status = serializers.ChoiceField(choices=MemberCard.Status.choices)
    uses_total = serializers.SerializerMethodField()
    uses_remaining = uses_field(allow_null=True)
    cap_per_day = serializers.IntegerField(allow_null=True)
    cap_per_week = serializers.IntegerField(allow_null=True)
    valid_until = serializers.DateField(allow_null=True)
    services = ServiceRefSerializer(many=True, source="product.services.all")

    @extend_schema_field(uses_field(allow_null=True))
    def get_uses_total(self, card):
        return None if card.uses_remaining is None else f"{card.uses_total:.2f}"


class CardEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CardEntry.Kind.choices)
    uses = uses_field(help_text="Signed: a use takes (negative), a purchase or reversal adds.")
    service = ServiceRefSerializer(allow_null=True)
    store = serializers.CharField(source="store.code")
    performed_by = serializers.SerializerMethodField()
    recorded_by = serializers.SerializerMethodField()
    note = serializers.CharField(help_text="The staff's service note (服务记录).")
    confirmation = serializers.ChoiceField(choices=CardEntry.Confirmation.choices)
    reason = serializers.CharField()
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_performed_by(self, entry):
        return staff_name(entry.performed_by) if entry.performed_by_id else None

    @extend_schema_field(serializers.CharField())
    def get_recorded_by(self, entry):
        return staff_name(entry.recorded_by)


class CardDetailOutputSerializer(MemberCardOutputSerializer):
    frozen_at = serializers.DateTimeField(allow_null=True)
    refunded_at = serializers.DateTimeField(allow_null=True)
    entries = serializers.SerializerMethodField()

    @extend_schema_field(CardEntryOutputSerializer(many=True))
    def get_entries(self, card):
        return CardEntryOutputSerializer(self.context["entries"], many=True).data


class ServiceRecordOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    card = serializers.CharField(source="card.code")
    card_name = serializers.CharField(source="card.product.name")
    service = ServiceRefSerializer(allow_null=True)
    uses = serializers.SerializerMethodField()
    store = serializers.CharField(source="store.code")
    performed_by = serializers.SerializerMethodField()
    note = serializers.CharField()
    reversed = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(uses_field())
    def get_uses(self, entry):
        return f"{-entry.uses:.2f}"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_performed_by(self, entry):
        return staff_name(entry.performed_by) if entry.performed_by_id else None

    @extend_schema_field(serializers.BooleanField())
    def get_reversed(self, entry):
        return entry.pk in self.context.get("reversed", ())


class ServiceHistoryOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True)
    results = ServiceRecordOutputSerializer(many=True)


# POST /cards/sales/


class CardSaleInputSerializer(serializers.Serializer):
    request_id = request_id_field()
    store = serializers.CharField(help_text="Store code, e.g. SH001.")
    member = serializers.CharField(help_text="Member code or phone (in the body, never in an address).")
    product = serializers.CharField(max_length=32, help_text="Card product code.")
    tenders = TenderInputSerializer(many=True, max_length=MAX_TENDERS_ACCEPTED)
    coupon_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    points = serializers.IntegerField(
        required=False, default=0, min_value=-INT32_MAX, max_value=INT32_MAX, help_text="Points to pay with."
    )


class CardSaleOutputSerializer(BalancesMixin):
    card = MemberCardOutputSerializer()
    sale = SaleOutputSerializer()


# POST /cards/{card_no}/uses/


class CardUseInputSerializer(serializers.Serializer):
    request_id = request_id_field()
    store = serializers.CharField(help_text="Store code where the service was performed.")
    service = serializers.CharField(max_length=32, help_text="Service code.")
    uses = uses_field(required=False, default="1.00", help_text="1 by default; fractional for lesson-hours cards.")
    performed_by = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=INT32_MAX, help_text="Staff user id."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000, trim_whitespace=True)
    confirmation = serializers.ChoiceField(
        choices=["", "code", "signature"],
        required=False,
        allow_blank=True,
        default="",
        help_text="How the member confirmed.",
    )
    confirmation_code = serializers.CharField(required=False, allow_blank=True, default="", max_length=16)
    signature = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=300_000,
        trim_whitespace=False,
        help_text="The member's signature: a PNG data URL (data:image/png;base64,…).",
    )


class CardUseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    request_id = serializers.CharField()
    card = serializers.CharField(source="card.code")
    service = ServiceRefSerializer()
    uses = serializers.SerializerMethodField()
    uses_remaining = uses_field(source="card.uses_remaining", allow_null=True, help_text="Left on the card now.")
    store = serializers.CharField(source="store.code")
    performed_by = serializers.SerializerMethodField()
    confirmation = serializers.CharField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(uses_field())
    def get_uses(self, entry):
        return f"{-entry.uses:.2f}"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_performed_by(self, entry):
        return staff_name(entry.performed_by) if entry.performed_by_id else None


# POST /cards/uses/{id}/reversal/


class CardUseReversalInputSerializer(serializers.Serializer):
    request_id = request_id_field()
    reason = serializers.CharField(max_length=255, allow_blank=True)


class CardUseReversalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    request_id = serializers.CharField()
    card = serializers.CharField(source="card.code")
    reverses = serializers.IntegerField(source="reverses_id")
    uses = uses_field()
    uses_remaining = uses_field(source="card.uses_remaining", allow_null=True)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


# POST /cards/{card_no}/refunds/


class CardRefundInputSerializer(serializers.Serializer):
    request_id = request_id_field()
    store = serializers.CharField(help_text="Store code where the refund is made.")
    reason = serializers.CharField(max_length=255, allow_blank=True)
    approver = ApproverInputSerializer(
        required=False, allow_null=True, default=None, help_text="A manager approving a cashier's refund."
    )


class CardRefundOutputSerializer(BalancesMixin):
    id = serializers.IntegerField()
    request_id = serializers.CharField()
    card = serializers.SerializerMethodField()
    sale = serializers.IntegerField(source="sale_id")
    store = serializers.CharField(source="store.code")
    amount = money_field()
    money_refunded = money_field()
    principal_restored = money_field()
    bonus_restored = money_field()
    points_clawed_back = serializers.IntegerField()
    reason = serializers.CharField()
    approved_by = serializers.CharField(source="approved_by.username", allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField())
    def get_card(self, refund):
        return self.context["card"].code
