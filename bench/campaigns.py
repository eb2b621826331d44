"""A campaign launch at chain scale: the segment drawn and split, a coupon, a points boost and a message
for each target member of 100,000.

    python -m bench.campaigns --members 100000

Fills a fresh bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench_campaigns)
with `bench.generate`'s members (COPY), then, in the same run:

1. reference: PostgreSQL's own COPY of as many coupon-sized rows into a plain table (bench.issue_coupons);
2. `campaign_launch` of a campaign over every member with a 10 % holdout group, a 满200减50 coupon, double
   points for its window and an SMS: the snapshot (bulk inserts of 5,000), the coupons (set-based bulk
   issue), the boosts (one INSERT … SELECT), the messages (bulk queue) — one transaction;
3. the same launch again, which must do nothing;

and prints the seconds of each, the ratio to COPY, and checks the counts.
"""

import argparse
import os
import time

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_campaigns"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    from bench._setup import django_on_bench_database

    django_on_bench_database(args.url, fresh=True)
    from bench.generate import generate_members

    generated = generate_members(args.members)
    print(f"{generated['members']:,} members generated in {generated['seconds']:.1f} s (COPY)")

    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from bench.issue_coupons import copy_reference
    from campaigns.models import CampaignMember, Coupon, CouponTemplate, Message, MessageChannel, PointsBoost, Segment
    from campaigns.services.campaigns import CampaignFields, campaign_create, campaign_launch
    from campaigns.services.messaging import message_template_save
    from stores.services import staff_create

    admin = staff_create(actor=None, username="bench_admin", password="bench-admin", role="hq_admin")
    template = CouponTemplate.objects.create(
        name="满200减50",
        kind=CouponTemplate.Kind.THRESHOLD_OFF,
        amount=Decimal("50.00"),
        threshold=Decimal("200.00"),
        valid_days=30,
    )
    message = message_template_save(
        actor=admin, name="活动通知", channel=MessageChannel.SMS, subject="", body="{name}您好，{coupon_name}已到账。"
    )
    segment = Segment.objects.create(name="全部会员", rules=[], created_by=admin)
    now = timezone.now()
    campaign = campaign_create(
        actor=admin,
        fields=CampaignFields(
            name="双倍积分周",
            segment=segment,
            starts_at=now,
            ends_at=now + timedelta(days=7),
            holdout_percent=Decimal("10.0"),
            coupon_template=template,
            multiplier=Decimal("2.00"),
            message_template=message,
        ),
    )

    copy_seconds = copy_reference(args.members)

    started = time.perf_counter()
    first = campaign_launch(actor=admin, campaign=campaign)
    launch_seconds = time.perf_counter() - started

    started = time.perf_counter()
    again = campaign_launch(actor=admin, campaign=campaign)
    again_seconds = time.perf_counter() - started

    drawn = CampaignMember.objects.filter(campaign=campaign).count()
    coupons = Coupon.objects.filter(campaign=campaign).count()
    boosts = PointsBoost.objects.filter(campaign=campaign).count()
    messages = Message.objects.filter(campaign=campaign).count()
    rows = drawn + coupons + boosts + messages
    print(f"\ncampaign launch over {args.members:,} members, PostgreSQL, same run:")
    print(f"  reference COPY of {args.members:,} rows        {copy_seconds:7.2f} s")
    print(
        f"  campaign_launch (snapshot, coupon, boost, message)  {launch_seconds:7.2f} s  "
        f"{rows:,} rows, {rows / launch_seconds:10,.0f} rows/s"
    )
    print(f"  ratio to COPY of as many members      {copy_seconds / launch_seconds:7.1%}")
    print(f"  the same launch again                 {again_seconds:7.2f} s  launched again: {again.launched}")
    print(
        f"  drawn {drawn:,} (target {first.target:,}, holdout {first.holdout:,}), coupons {coupons:,}, "
        f"boosts {boosts:,}, messages {messages:,}"
    )
    assert first.launched and not again.launched
    assert drawn == first.target + first.holdout and coupons == boosts == messages == first.target


if __name__ == "__main__":
    main()
