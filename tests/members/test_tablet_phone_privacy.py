"""Nothing a cashier's pages or API answers give about a member lets anyone recover the member's phone.

The masked phone (191****7751) leaves 10,000 numbers. The attack of issue 16 tried them all against a
fast hash the pages carried for the offline lookup. Here everything a cashier can read about a member
(the find pages, the card, the sell page, the API) is searched for any fast digest of any of those
10,000 numbers, and what the tablet keeps for its offline lookup must still fit at least 163 of them.
"""

import hashlib
import json
import re

import pytest
from django.urls import reverse

from members.phones import OFFLINE_TAG_MODULUS, offline_phone_tag
from tests.factories import MemberFactory
from tests.members.phone_digests import candidates_of, fast_digests_in

pytestmark = pytest.mark.django_db

PHONE = "+8619112347751"
MASKED = "191****7751"
CANDIDATES = candidates_of(MASKED)


@pytest.fixture
def member(db):
    return MemberFactory(phone=PHONE, name="赵敏")


def _everything_a_cashier_reads(client, member) -> str:
    pages = [
        client.post(reverse("tablet:find"), {"q": "赵敏"}),
        client.post(reverse("tablet:find"), {"q": "191"}, HTTP_HX_REQUEST="true"),
        client.post(reverse("tablet:find"), {"q": member.code}),
        client.get(reverse("tablet:member", args=[member.code])),
        client.get(reverse("tablet:sell"), {"member": member.code}),
        client.get(reverse("members-api:member-detail", args=[member.code])),
        client.get(reverse("members-api:member-lookup"), {"q": member.code}),
        client.post(reverse("members-api:member-lookup"), {"q": "191"}, content_type="application/json"),
    ]
    for page in pages:
        assert page.status_code == 200, page
    return "\n".join(page.content.decode() for page in pages)


def test_no_page_or_answer_a_cashier_reads_carries_a_fast_hash_of_a_phone(at_till, chain, member):
    corpus = _everything_a_cashier_reads(at_till(chain.cashier_a, chain.store_a), member)

    assert MASKED in corpus
    assert "19112347751" not in corpus
    assert fast_digests_in(corpus, CANDIDATES) == set()


def test_what_the_tablet_keeps_fits_at_least_163_of_the_10000_numbers_the_mask_leaves(at_till, chain, member):
    client = at_till(chain.cashier_a, chain.store_a)
    card = client.get(reverse("tablet:member", args=[member.code])).content.decode()
    kept = json.loads(re.search(r'<script type="application/json" data-member>(.*?)</script>', card)[1])

    # The tablet's own rule, run by an attacker over every number the masked phone leaves.
    fitting = [
        c for c in CANDIDATES if c[3:6] + "****" + c[-4:] == kept["phone"] and offline_phone_tag(c) == kept["phone_tag"]
    ]

    assert PHONE in fitting
    assert len(fitting) >= 10_000 // OFFLINE_TAG_MODULUS == 163


def test_a_fast_hash_in_a_page_would_be_caught():
    page = (
        f'<script data-member>{{"phone": "{MASKED}", "key": "{hashlib.sha256(PHONE.encode()).hexdigest()}"}}</script>'
    )
    short = f'<a data-k="{hashlib.md5(PHONE[3:].encode()).hexdigest()[:12]}">'

    assert fast_digests_in(page, CANDIDATES) == {PHONE}
    assert fast_digests_in(short, CANDIDATES) == {PHONE}
