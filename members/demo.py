"""Demo members: realistic Chinese names, valid mainland mobiles, spread over stores and two years."""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from members.codes import luhn_check_digit
from members.models import ConsentRecord, Member, Tag
from members.phones import normalize_phone
from members.selectors import member_ids_by_phone
from stores.demo import DemoContext

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍红玲建国文辉力飞鹏宇浩然子轩梓涵欣怡雨萱"
    "佳琪思远嘉怡俊杰晨曦博文一诺若曦雅婷志强海燕丹凤晓东春梅秋菊冬雪晴岚"
)
MOBILE_PREFIXES = [
    *(f"13{d}" for d in range(10)),
    *("150", "151", "152", "153", "155", "156", "157", "158", "159", "166", "173", "176", "177"),
    *(f"18{d}" for d in range(10)),
    *("191", "198", "199"),
]
TAGS = ["VIP", "宝妈", "学生", "企业客户", "新客", "咖啡爱好者", "健身", "价格敏感"]
NOTES = ["", "", "", "偏好无糖饮品", "周末常来", "生日在农历", "喜欢新品试吃", "需要发票"]


def demo_members(ctx: DemoContext) -> None:
    rng = ctx.rng
    wanted = ctx.options.members
    stores = list(ctx.stores.values())
    staff_by_store = {}
    for user in ctx.staff.values():
        for store in user.staff_profile.stores.all():
            staff_by_store.setdefault(store.pk, user)
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in TAGS}
    now = timezone.now()
    today = timezone.localdate()

    rows: list[Member] = []
    seen_phones: set[str] = set()
    seen_codes: set[str] = set()
    member_tags: list[tuple[str, list[str]]] = []
    bar = tqdm(total=wanted, desc="members", unit="member", file=ctx.progress, disable=ctx.progress is None)
    while len(rows) < wanted:
        phone = normalize_phone(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}")
        if phone in seen_phones:
            continue
        seen_phones.add(phone)
        body = "9" + f"{rng.randrange(10**8):08d}"
        if body in seen_codes:
            continue
        seen_codes.add(body)
        store = rng.choice(stores)
        registered_at = now - timedelta(days=rng.randrange(730), minutes=rng.randrange(24 * 60))
        consent = rng.random() < 0.6
        has_birthday = rng.random() < 0.8
        rows.append(
            Member(
                code=body + luhn_check_digit(body),
                phone=phone,
                name=rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2)))),
                gender=rng.choice(
                    [Member.Gender.FEMALE, Member.Gender.FEMALE, Member.Gender.MALE, Member.Gender.UNKNOWN]
                ),
                birthday=date(rng.randrange(1960, 2006), rng.randrange(1, 13), rng.randrange(1, 29))
                if has_birthday
                else None,
                email="",
                home_store=store,
                registration_store=store,
                registered_by=staff_by_store.get(store.pk),
                registration_channel=rng.choice(
                    [Member.Channel.STORE] * 6 + [Member.Channel.MINI_PROGRAM] * 3 + [Member.Channel.ONLINE]
                ),
                registered_at=registered_at,
                marketing_consent=consent,
                consent_at=registered_at if consent else None,
                consent_source=Member.ConsentSource.TABLET if consent else "",
                notes=rng.choice(NOTES),
            )
        )
        member_tags.append((phone, rng.sample(TAGS, k=rng.choice((0, 0, 1, 1, 2)))))
        bar.update(1)
    bar.close()
    assert all(m.birthday is None or m.birthday <= today for m in rows)

    with transaction.atomic():
        before = Member.objects.count()
        Member.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        ids = member_ids_by_phone(seen_phones)
        through = Member.tags.through
        through.objects.bulk_create(
            [
                through(member_id=ids[phone], tag_id=tags[name].pk)
                for phone, names in member_tags
                for name in names
                if phone in ids
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        # Their consent's history, as registration at the tablet writes it (members.consent).
        recorded = set(ConsentRecord.objects.filter(member_id__in=ids.values()).values_list("member_id", flat=True))
        ConsentRecord.objects.bulk_create(
            [
                ConsentRecord(
                    member_id=ids[m.phone],
                    given=True,
                    at=m.consent_at,
                    source=m.consent_source,
                    store=m.registration_store,
                    staff=m.registered_by,
                    text_version=settings.MARKETING_CONSENT_TEXT_VERSION,
                )
                for m in rows
                if m.marketing_consent and m.phone in ids and ids[m.phone] not in recorded
            ],
            batch_size=1000,
        )
        # One member in ten was brought by an earlier one.
        ordered = sorted(rows, key=lambda m: m.registered_at)
        referrals = []
        for i, member in enumerate(ordered[1:], start=1):
            if rng.random() < 0.1:
                referrals.append((ids[member.phone], ids[ordered[rng.randrange(i)].phone]))
        for member_id, referrer_id in referrals:
            Member.objects.filter(pk=member_id, referrer__isnull=True).update(referrer_id=referrer_id)
        created = Member.objects.count() - before
    ctx.summary.append(f"{len(rows)} demo members ({created} new), {len(TAGS)} tags, {len(referrals)} referrals")
