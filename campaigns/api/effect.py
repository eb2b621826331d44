"""GET /api/v1/campaigns/{id}/effect/: a campaign's measured effect for integrations (a BI tool, the
group's reporting), the figures of the back office's effect page. HQ roles that manage campaigns or
read analytics."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from campaigns.selectors.campaigns import campaign_by_id
from campaigns.selectors.effect import campaign_effect
from config.api import ERROR_RESPONSES, ApiView, not_found
from stores.permissions import staff_can
from stores.roles import Action

MONEY = {"max_digits": 14, "decimal_places": 2, "allow_null": True}


class GroupSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    buyers = serializers.IntegerField()
    sales = serializers.IntegerField()
    revenue = serializers.DecimalField(**MONEY)
    revenue_per_member = serializers.DecimalField(**MONEY)


class DaySerializer(serializers.Serializer):
    day = serializers.DateField()
    target = serializers.DecimalField(**MONEY)
    holdout = serializers.DecimalField(**MONEY)


class CampaignEffectSerializer(serializers.Serializer):
    campaign = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    live = serializers.BooleanField()
    reached = serializers.IntegerField()
    messages_sent = serializers.IntegerField()
    coupons_issued = serializers.IntegerField()
    coupons_redeemed = serializers.IntegerField()
    redemption_rate = serializers.DecimalField(max_digits=8, decimal_places=4, allow_null=True)
    target = GroupSerializer()
    holdout = GroupSerializer()
    incremental_revenue = serializers.DecimalField(**MONEY)
    coupon_cost = serializers.DecimalField(**MONEY)
    points_awarded = serializers.IntegerField()
    boost_points = serializers.IntegerField()
    points_cost = serializers.DecimalField(**MONEY)
    cost = serializers.DecimalField(**MONEY)
    roi = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    roi_reason = serializers.CharField()
    series = DaySerializer(many=True)

    def get_campaign(self, effect) -> int:
        return self.context["campaign"].pk

    def get_status(self, effect) -> str:
        return self.context["campaign"].status


CAMPAIGN_ID = OpenApiParameter("campaign_id", int, OpenApiParameter.PATH, description="The campaign's id.")


class CampaignEffectApi(ApiView):
    """The campaign's effect: reached, coupons, target against holdout in its window, cost and ROI."""

    OutputSerializer = CampaignEffectSerializer

    @extend_schema(
        operation_id="campaign_effect",
        summary="A campaign's measured effect and ROI",
        parameters=[CAMPAIGN_ID],
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request, campaign_id: int):
        if not (staff_can(request.user, Action.MANAGE_CAMPAIGNS) or staff_can(request.user, Action.VIEW_ANALYTICS)):
            raise PermissionDenied(_("Your role does not allow this."))
        campaign = campaign_by_id(campaign_id)
        if campaign is None:
            raise not_found("campaign_not_found", _("There is no campaign %(id)s.") % {"id": campaign_id})
        return Response(self.OutputSerializer(campaign_effect(campaign), context={"campaign": campaign}).data)
