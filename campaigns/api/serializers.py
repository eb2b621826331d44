"""Input and output of the coupons and points-mall endpoints. Shapes and types only; the rules live in
the services. Money travels as strings with two decimals, as everywhere in the API."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import Coupon, CouponTemplate, MallItem, MallOrder
from loyalty.api.serializers import BalancesMixin, TierRefSerializer, money_field, request_id_field

INT32_MAX = 2_147_483_647


def _money_or_none(value: Decimal | None) -> str | None:
    return None if value is None else money_field().to_representation(value)


class CouponTermsSerializer(serializers.Serializer):
    """What a template gives and when it applies; the figures a kind does not use are null. Serializes a
    template, or (CouponSummarySerializer) a coupon with its template's terms beside its own fields."""

    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CouponTemplate.Kind.choices)
    amount = serializers.SerializerMethodField(help_text="Amount off (满减, 立减).")
    percent_off = serializers.SerializerMethodField(help_text="10.00 means 10 % off (9折).")
    max_discount = serializers.SerializerMethodField(help_text="The cap of a percent-off coupon.")
    threshold = serializers.SerializerMethodField(help_text="Minimum spend of the eligible lines (满200: 200.00).")
    gift_name = serializers.SerializerMethodField(help_text="What a gift coupon is exchanged for.")
    gift_value = serializers.SerializerMethodField(help_text="A gift coupon takes at most this off the gift's line.")
    categories = serializers.ListField(child=serializers.CharField(), help_text="Eligible categories; empty: all.")
    channels = serializers.ListField(child=serializers.CharField(), help_text="store, online; empty: both.")
    stackable = serializers.BooleanField(help_text="False: the only coupon of its sale.")

    @staticmethod
    def _terms(obj) -> CouponTemplate:
        return obj.template if isinstance(obj, Coupon) else obj

    @extend_schema_field(money_field(allow_null=True))
    def get_amount(self, obj):
        template = self._terms(obj)
        amount_kinds = (CouponTemplate.Kind.THRESHOLD_OFF, CouponTemplate.Kind.AMOUNT_OFF)
        return _money_or_none(template.amount) if template.kind in amount_kinds else None

    @extend_schema_field(serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True))
    def get_percent_off(self, obj):
        template = self._terms(obj)
        if template.kind != CouponTemplate.Kind.PERCENT_OFF:
            return None
        return serializers.DecimalField(max_digits=5, decimal_places=2).to_representation(template.percent_off)

    @extend_schema_field(money_field(allow_null=True))
    def get_max_discount(self, obj):
        template = self._terms(obj)
        return _money_or_none(template.max_discount) if template.kind == CouponTemplate.Kind.PERCENT_OFF else None

    @extend_schema_field(money_field(allow_null=True))
    def get_threshold(self, obj):
        template = self._terms(obj)
        return _money_or_none(template.threshold) if template.threshold else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_gift_name(self, obj):
        template = self._terms(obj)
        return template.gift_name if template.kind == CouponTemplate.Kind.GIFT else None

    @extend_schema_field(money_field(allow_null=True))
    def get_gift_value(self, obj):
        template = self._terms(obj)
        return _money_or_none(template.gift_value) if template.kind == CouponTemplate.Kind.GIFT else None


class CouponSummarySerializer(CouponTermsSerializer):
    """A usable coupon in the member summary: its code and validity beside its template's terms."""

    code = serializers.CharField(help_text="What the member shows at the till, e.g. 7K3M-Q9XD-2HVA.")
    name = serializers.CharField(source="template.name")
    kind = serializers.ChoiceField(source="template.kind", choices=CouponTemplate.Kind.choices)
    categories = serializers.ListField(
        source="template.categories", child=serializers.CharField(), help_text="Eligible categories; empty: all."
    )
    channels = serializers.ListField(
        source="template.channels", child=serializers.CharField(), help_text="store, online; empty: both."
    )
    stackable = serializers.BooleanField(source="template.stackable", help_text="False: the only coupon of its sale.")
    valid_until = serializers.DateTimeField()


class CouponSerializer(CouponSummarySerializer):
    id = serializers.IntegerField()
    template = serializers.IntegerField(source="template_id")
    member = serializers.CharField(source="member.code")
    status = serializers.ChoiceField(choices=Coupon.Status.choices)
    source = serializers.ChoiceField(choices=Coupon.Source.choices)
    valid_from = serializers.DateTimeField()
    issued_at = serializers.DateTimeField()


# POST /coupons/


class CouponIssueInputSerializer(serializers.Serializer):
    request_id = request_id_field()
    template = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The coupon template's id.")
    member = serializers.CharField(max_length=64, help_text="Member code or phone.")
    issue_anyway = serializers.BooleanField(
        default=False,
        help_text="Issue even if the member cannot use the coupon (not of its tiers); without it such an issue is "
        "refused with coupon_not_usable. Recorded in the audit trail.",
    )


# GET /mall/items/


class MallItemsInputSerializer(serializers.Serializer):
    member = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64, help_text="Member code or phone."
    )
    store = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=32, help_text="The asking till's store code."
    )


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="mall_out_of_stock, mall_wrong_tier, mall_coupon_unusable, mall_limit_reached, insufficient_points, "
        "member_frozen."
    )
    message = serializers.CharField()


class MallOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="item.id")
    name = serializers.CharField(source="item.name")
    kind = serializers.ChoiceField(source="item.kind", choices=MallItem.Kind.choices)
    description = serializers.CharField(source="item.description")
    points_price = serializers.IntegerField(source="item.points_price")
    stock = serializers.IntegerField(source="item.stock", allow_null=True, help_text="Null: no limit.")
    per_member_limit = serializers.IntegerField(source="item.per_member_limit", allow_null=True)
    ordered = serializers.IntegerField(help_text="How many the member has ordered (cancelled orders not counted).")
    tiers = TierRefSerializer(source="item.tiers.all", many=True, help_text="Empty: every tier.")
    coupon = serializers.SerializerMethodField(help_text="A coupon item's coupon.")
    available = serializers.BooleanField(help_text="Whether the member may buy it now.")
    refusal = serializers.SerializerMethodField(help_text="Why not, when not.")

    @extend_schema_field(CouponTermsSerializer(allow_null=True))
    def get_coupon(self, offer):
        template = offer.item.coupon_template
        return CouponTermsSerializer(template).data if template is not None else None

    @extend_schema_field(RefusalSerializer(allow_null=True))
    def get_refusal(self, offer):
        if offer.reason is None:
            return None
        return {"code": offer.reason, "message": self.context["messages"][offer.item.pk]}


# POST /mall/orders/ and what follows


class MallOrderInputSerializer(serializers.Serializer):
    request_id = request_id_field()
    member = serializers.CharField(max_length=64, help_text="Member code or phone.")
    item = serializers.IntegerField(min_value=1, max_value=INT32_MAX, help_text="The mall item's id.")
    store = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=32,
        help_text="The store where a gift is picked up (the till's); may be left out for a coupon.",
    )


class MallHandOverInputSerializer(serializers.Serializer):
    store = serializers.CharField(max_length=32, help_text="The store handing the gift over (its pick-up store).")


class MallCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, allow_blank=True)


class MallOrderSerializer(BalancesMixin):
    id = serializers.IntegerField()
    request_id = serializers.CharField()
    member = serializers.CharField(source="member.code")
    item = serializers.IntegerField(source="item_id")
    item_name = serializers.CharField(source="item.name")
    points = serializers.IntegerField(help_text="Points paid.")
    status = serializers.ChoiceField(choices=MallOrder.Status.choices)
    store = serializers.CharField(source="store.code", allow_null=True, help_text="The pick-up store.")
    coupon = serializers.SerializerMethodField(help_text="The coupon a coupon item issued.")
    created_at = serializers.DateTimeField()
    handed_over_at = serializers.DateTimeField(allow_null=True)
    handed_over_by = serializers.CharField(source="handed_over_by.username", allow_null=True)

    @extend_schema_field(CouponSummarySerializer(allow_null=True))
    def get_coupon(self, order):
        return CouponSummarySerializer(order.coupon).data if order.coupon_id else None
