"""The effect page of a campaign or an automation: its figures as a table and a chart drawn here as
inline SVG (no script library, no CDN: stores' back offices run on closed networks), refreshed every
60 seconds while the campaign runs.

The automation's page is served at admin:campaigns_automation_effect (…/automation/<pk>/effect/),
added to the admin site's URLs here so that the automation admin only needs to link to it.
"""

from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from campaigns.models import Automation, Campaign
from campaigns.selectors.campaigns import campaign_by_id
from campaigns.selectors.effect import Effect, automation_effect, campaign_effect
from stores.permissions import staff_can
from stores.roles import Action

REFRESH_SECONDS = 60
_W, _H = 900, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 28, 16, 40
TARGET_COLOUR = "#2f7ed8"
HOLDOUT_COLOUR = "#e4572e"


def _yuan(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return "¥" + number_format(value, decimal_pos=2, force_grouping=True)


def _percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return number_format(value * 100, decimal_pos=1) + "%"


def effect_chart(effect: Effect) -> str:
    """Revenue per member to date, by day, target against holdout: an SVG with axes and a legend."""
    series = effect.series
    if not series:
        return ""
    values = [d.target_to_date for d in series] + [d.holdout_to_date for d in series if d.holdout_to_date is not None]
    top = max(values) if values and max(values) > 0 else Decimal("1")
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    step = plot_w / max(len(series) - 1, 1)

    def x(i: int) -> float:
        return round(_LEFT + i * step, 1)

    def y(value: Decimal) -> float:
        return round(_TOP + plot_h - float(value / top) * plot_h, 1)

    def line(points, colour: str, label: str) -> str:
        coords = " ".join(f"{x(i)},{y(v)}" for i, v in points)
        return format_html(
            '<polyline fill="none" stroke="{}" stroke-width="2.5" points="{}"><title>{}</title></polyline>',
            colour,
            coords,
            label,
        )

    parts = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>', _LEFT, _TOP + plot_h, _W - _RIGHT, _TOP + plot_h
        ),
        format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>', _LEFT, _TOP, _LEFT, _TOP + plot_h),
    ]
    for fraction in (Decimal("0"), Decimal("0.5"), Decimal("1")):
        value = top * fraction
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="12" fill="#666">{}</text>'
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#eee"/>',
                _LEFT - 6,
                y(value) + 4,
                _yuan(value.quantize(Decimal("0.01"))),
                _LEFT,
                y(value),
                _W - _RIGHT,
                y(value),
            )
        )
    label_every = max(1, len(series) // 7)
    for i, day in enumerate(series):
        if i % label_every == 0 or i == len(series) - 1:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="#666">{}</text>',
                    x(i),
                    _H - _BOTTOM + 18,
                    day.day.strftime("%m-%d"),
                )
            )
    target_label = _("Target group")
    holdout_label = _("Holdout group")
    parts.append(line([(i, d.target_to_date) for i, d in enumerate(series)], TARGET_COLOUR, target_label))
    if any(d.holdout_to_date is not None for d in series):
        parts.append(
            line(
                [(i, d.holdout_to_date) for i, d in enumerate(series) if d.holdout_to_date is not None],
                HOLDOUT_COLOUR,
                holdout_label,
            )
        )
    return format_html(
        '<svg class="effect-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        _W,
        _H,
        _("Revenue per member to date, target against holdout"),
        mark_safe("".join(str(p) for p in parts)),
    )


def _rows(effect: Effect) -> list[tuple[str, str, str]]:
    """(figure, target, holdout) rows of the comparison table."""
    t, h = effect.target, effect.holdout
    return [
        (_("Members"), number_format(t.members, force_grouping=True), number_format(h.members, force_grouping=True)),
        (_("Buyers"), number_format(t.buyers, force_grouping=True), number_format(h.buyers, force_grouping=True)),
        (_("Share who bought"), _percent(t.buyer_rate), _percent(h.buyer_rate)),
        (_("Sales"), number_format(t.sales, force_grouping=True), number_format(h.sales, force_grouping=True)),
        (_("Revenue (net of refunds)"), _yuan(t.revenue), _yuan(h.revenue)),
        (_("Revenue per member"), _yuan(t.revenue_per_member), _yuan(h.revenue_per_member)),
    ]


def _figures(effect: Effect) -> list[tuple[str, str]]:
    return [
        (_("Members reached"), number_format(effect.reached, force_grouping=True)),
        (_("Messages sent"), number_format(effect.messages_sent, force_grouping=True)),
        (_("Coupons issued"), number_format(effect.coupons_issued, force_grouping=True)),
        (_("Coupons redeemed"), number_format(effect.coupons_redeemed, force_grouping=True)),
        (_("Redemption rate"), _percent(effect.redemption_rate)),
        (_("Incremental revenue"), _yuan(effect.incremental_revenue)),
        (_("Coupon discounts"), _yuan(effect.coupon_cost)),
        (
            _("Points given (awarded + boost extra)"),
            f"{number_format(effect.points_awarded, force_grouping=True)} + "
            f"{number_format(effect.boost_points, force_grouping=True)} = {_yuan(effect.points_cost)}",
        ),
        (_("Cost"), _yuan(effect.cost)),
        (_("ROI"), _percent(effect.roi)),
    ]


def _may_see(request) -> bool:
    return staff_can(request.user, Action.MANAGE_CAMPAIGNS) or staff_can(request.user, Action.VIEW_ANALYTICS)


def _render(request, *, subject, effect: Effect, title: str, back_url: str, opts):
    now = timezone.now()
    context = {
        **admin.site.each_context(request),
        "title": title,
        "subject": subject,
        "opts": opts,
        "app_label": opts.app_label,
        "can_open_app": request.user.has_module_perms(opts.app_label),
        "back_url": back_url,
        "effect": effect,
        "figures": _figures(effect),
        "rows": _rows(effect),
        "chart": effect_chart(effect),
        "window_start": timezone.localtime(effect.starts_at).strftime("%Y-%m-%d %H:%M") if effect.starts_at else "—",
        "window_end": (
            timezone.localtime(min(now, effect.ends_at) if effect.ends_at else now).strftime("%Y-%m-%d %H:%M")
        ),
        "refresh_seconds": REFRESH_SECONDS if effect.live else None,
        "target_colour": TARGET_COLOUR,
        "holdout_colour": HOLDOUT_COLOUR,
        "updated_at": timezone.localtime(now).strftime("%H:%M:%S"),
    }
    return TemplateResponse(request, "admin/campaigns/campaign/effect.html", context)


def campaign_effect_view(request, pk: int):
    if not _may_see(request):
        raise PermissionDenied
    campaign = campaign_by_id(pk)
    if campaign is None:
        raise Http404
    from django.urls import reverse

    return _render(
        request,
        subject=campaign,
        effect=campaign_effect(campaign),
        title=_("Effect of “%(name)s”") % {"name": campaign.name},
        back_url=reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        opts=Campaign._meta,
    )


def automation_effect_view(request, pk: int):
    if not _may_see(request):
        raise PermissionDenied
    automation = Automation.objects.filter(pk=pk).first()
    if automation is None:
        raise Http404
    from django.urls import NoReverseMatch, reverse

    try:
        back_url = reverse("admin:campaigns_automation_change", args=[automation.pk])
    except NoReverseMatch:
        back_url = ""
    return _render(
        request,
        subject=automation,
        effect=automation_effect(automation),
        title=_("Effect of “%(name)s”") % {"name": automation.name},
        back_url=back_url,
        opts=Automation._meta,
    )


def _with_automation_effect(get_urls):
    def urls():
        view = admin.site.admin_view(automation_effect_view)
        return [
            path("campaigns/automation/<int:pk>/effect/", view, name="campaigns_automation_effect"),
            *get_urls(),
        ]

    return urls


# Before the model admins' own patterns, so that …/automation/<pk>/effect/ is not read as an object id.
admin.site.get_urls = _with_automation_effect(admin.site.get_urls)

__all__ = ["automation_effect_view", "campaign_effect_view", "effect_chart"]
