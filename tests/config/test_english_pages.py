"""An English reader of the back office reads English: every page the HQ admin can open (the same list the
phone test builds from the URL resolver, with the same world of data) in English carries no Chinese but the
chain's own data.

Chinese that comes from the data (a member's name, a store, a tier) is fine; Chinese from a template or
the code is an untranslated message.
"""

import re

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models

from tests.members.test_phones_in_every_output import _client_for, _content, _face, _outputs, world  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]+")
# Chinese that belongs on an English page: a language named in its own words (the language menu, the
# headers of a file), the Chinese retail terms the coupon kinds give as a gloss ("Amount off, no threshold
# (立减10元)"), the name Django gives the user–group link, translated once at start-up, and the legal term
# for a member's erasure, given beside the English word because members ask for it by that name.
EXPECTED = {"简体中文", "中文", "立减", "元", "兑换券", "折", "满减", "关系", "注销"}
# Service cards by the words the trade uses: the kinds (次卡, 课时卡, 月卡/年卡), their units (次, 课时),
# 买10送2 as the example of bonus uses, and commission as 提成.
EXPECTED |= {"次卡", "课时卡", "月卡", "年卡", "次", "课时", "买", "送", "提成"}
# The members export lists each column by both its headers, Chinese and English: a file has either. A
# message preview is the chain's own Chinese template filled in with a member's name.
EXPECTED_ON = {
    "admin:members_member_export": re.compile(r".+"),
    "admin:campaigns_messagetemplate_preview": re.compile(r".+"),
}
DATA_APPS = ("stores", "members", "loyalty", "campaigns", "analytics", "servicecards", "auth", "django_celery_beat")


def _data_text() -> str:
    """Every text the database holds, and the categories the chain configures: Chinese that is data, not
    words of the product."""
    texts = list(settings.TABLET_SALE_CATEGORIES)
    for model in apps.get_models():
        if model._meta.app_label not in DATA_APPS:
            continue
        fields = [f.name for f in model._meta.concrete_fields if isinstance(f, models.CharField | models.TextField)]
        json_fields = [f.name for f in model._meta.concrete_fields if isinstance(f, models.JSONField)]
        for row in model._default_manager.values_list(*fields, *json_fields):
            texts.extend(str(value) for value in row if value)
    return "\n".join(texts)


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", html)


def test_every_back_office_page_in_english_has_no_chinese_but_the_data(world):  # noqa: F811
    data = _data_text()
    client = _client_for(world, "hq_admin", "web")
    untranslated = {}
    read = 0
    for name, rule, asks in _outputs(world):
        if _face(name) != "web" or "hq_admin" not in rule.personas:
            continue
        for ask in asks():
            if ask.method != "get":
                continue
            url = ask.url
            response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            read += 1
            body = _content(response).decode()
            allowed = EXPECTED_ON.get(name)
            for run in set(CJK_RUN.findall(_visible_text(body))):
                if run in EXPECTED or run in data or (allowed and allowed.fullmatch(run)):
                    continue
                if run.startswith("中文（"):  # the header-language choice names Chinese headers in Chinese
                    continue
                if all(c in "，。：；、（）！？“”‘’《》【】　" for c in run):
                    continue  # the tail of an allowed run split at a space ("中文（时间、会员编号 …）")
                untranslated.setdefault(f"{name} {url}", set()).add(run)
    assert read > 100  # the resolver's pages were read
    assert not untranslated, "Chinese on English pages (untranslated?):\n" + "\n".join(
        f"{page}: {sorted(runs)}" for page, runs in sorted(untranslated.items())
    )
