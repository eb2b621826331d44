"""Bad segment rules: each gets a message that names its rule, all are reported at once, nothing is written."""

import pytest
from django.utils import translation

from campaigns.models import Segment
from campaigns.segments import SegmentRuleError, validate_rules
from campaigns.services.segments import SegmentInvalid, segment_create
from stores.models import AuditEntry
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    # The messages below are the English msgids; the default language is Chinese.
    with translation.override("en"):
        yield


def refused(rules) -> list[tuple[int | None, str]]:
    with pytest.raises(SegmentRuleError) as error:
        validate_rules(rules)
    return error.value.errors


def test_rules_that_are_not_a_list_are_refused():
    assert refused({"field": "tier"}) == [(None, "Rules must be a list.")]
    assert refused("tier=1") == [(None, "Rules must be a list.")]


def test_a_rule_that_is_not_an_object_or_has_an_unknown_field_or_operator(tiers):
    assert refused([["tier"], {"field": "colour", "value": 1}, {"field": "tier", "op": "like", "value": [1]}]) == [
        (0, "Rule 1: A rule needs a field, an operator and a value."),
        (1, "Rule 2: Unknown field “colour”."),
        (2, "Rule 3 (Tier): “like” does not apply to Tier."),
    ]


def test_every_bad_rule_is_reported_at_once_not_only_the_first(tiers):
    errors = refused(
        [
            {"field": "spend", "value": {"min": "abc"}},
            {"field": "tier", "value": []},
            {"field": "colour", "value": 1},
            {"field": "visits", "value": {"min": 5, "max": 2}},
        ]
    )

    assert [index for index, _message in errors] == [0, 1, 2, 3]


def test_min_above_max_names_the_rule():
    assert refused([{"field": "spend", "value": {"min": 500, "max": 100}}]) == [
        (0, "Rule 1 (Total spend): The lowest value is above the highest; no member could match.")
    ]


def test_non_numbers_negative_and_fractional_counts():
    assert refused(
        [
            {"field": "spend", "value": {"min": "一百"}},
            {"field": "points", "value": {"min": -1}},
            {"field": "visits", "value": {"min": "2.5"}},
            {"field": "points", "value": {"min": True}},
            {"field": "spend", "value": {"max": "NaN"}},
        ]
    ) == [
        (0, "Rule 1 (Total spend): The lowest value must be a number."),
        (1, "Rule 2 (Points balance): Values cannot be negative."),
        (2, "Rule 3 (Purchases): Give whole numbers."),
        (3, "Rule 4 (Points balance): The lowest value must be a number."),
        (4, "Rule 5 (Total spend): The highest value must be a number."),
    ]


def test_huge_values_are_refused_before_they_reach_the_database():
    errors = refused(
        [
            {"field": "days_since_purchase", "value": {"min": 10**9}},
            {"field": "spend", "value": {"max": "1e400"}},
            {"field": "points_expiring", "value": {"days": 99999}},
            {"field": "top_points", "value": 10**12},
            {"field": "tier", "value": [2**70]},
            {"field": "registered", "value": {"to": "9999-12-31"}},
        ]
    )

    assert errors == [
        (0, "Rule 1 (Days since last purchase): Values cannot be above 36,500."),
        (1, "Rule 2 (Total spend): Values cannot be above 10,000,000,000."),
        (2, "Rule 3 (Points expiring within N days): The number of days must be a whole number from 1 to 3650."),
        (3, "Rule 4 (Top N by points): N must be a whole number from 1 to 1,000,000."),
        (4, "Rule 5 (Tier): Unknown choice."),
        (5, "Rule 6 (Registration date): The last day must lie between 1900 and 2999."),
    ]


def test_empty_choice_lists():
    assert refused(
        [
            {"field": "tier", "value": []},
            {"field": "birthday_month", "value": []},
            {"field": "churn_risk", "value": {"levels": [], "reasons": []}},
        ]
    ) == [
        (0, "Rule 1 (Tier): Choose at least one."),
        (1, "Rule 2 (Birthday month): Choose at least one."),
        (2, "Rule 3 (Churn risk): Choose a risk level, a reason or both."),
    ]


def test_unknown_ids_of_tiers_stores_and_tags_and_unknown_codes(tiers, chain):
    tag = TagFactory(name="VIP")

    assert refused(
        [
            {"field": "tier", "value": [tiers["gold"].pk, 999]},
            {"field": "home_store", "value": [chain.store_a.pk + 1000]},
            {"field": "tags", "op": "any", "value": [tag.pk + 1]},
            {"field": "rfm_segment", "value": ["vip"]},
            {"field": "birthday_month", "value": [13]},
        ]
    ) == [
        (0, "Rule 1 (Tier): #999 no longer exists (or never did); choose again."),
        (1, f"Rule 2 (Home store): #{chain.store_a.pk + 1000} no longer exists (or never did); choose again."),
        (2, f"Rule 3 (Tags): #{tag.pk + 1} no longer exists (or never did); choose again."),
        (3, "Rule 4 (RFM segment): Unknown choice."),
        (4, "Rule 5 (Birthday month): A month is a number from 1 to 12."),
    ]


def test_dates_in_the_wrong_order_and_not_dates():
    assert refused(
        [
            {"field": "registered", "value": {"from": "2026-03-01", "to": "2026-02-01"}},
            {"field": "registered", "value": {"from": "2026-02-30"}},
        ]
    ) == [
        (0, "Rule 1 (Registration date): The first day is after the last day; no member could match."),
        (1, "Rule 2 (Registration date): The first day is not a date (YYYY-MM-DD)."),
    ]


def test_the_same_field_twice_with_disjoint_ranges_contradicts():
    assert refused(
        [
            {"field": "spend", "value": {"min": 1000}},
            {"field": "spend", "value": {"max": "999.99"}},
        ]
    ) == [(1, "Rule 2 (Total spend): contradicts Rule 1: the two ranges do not overlap, so no member could match.")]


def test_overlapping_ranges_of_the_same_field_are_fine():
    assert validate_rules([{"field": "spend", "value": {"min": 100}}, {"field": "spend", "value": {"max": 100}}])


def test_disjoint_dates_and_choices_contradict(tiers):
    errors = refused(
        [
            {"field": "registered", "value": {"to": "2025-12-31"}},
            {"field": "registered", "value": {"from": "2026-01-01"}},
            {"field": "tier", "value": [tiers["gold"].pk]},
            {"field": "tier", "value": [tiers["normal"].pk]},
        ]
    )

    assert [index for index, _message in errors] == [1, 3]
    assert "contradicts Rule 3" in errors[1][1]


def test_a_tag_both_required_and_excluded():
    vip = TagFactory(name="VIP")

    assert refused(
        [{"field": "tags", "op": "all", "value": [vip.pk]}, {"field": "tags", "op": "none", "value": [vip.pk]}]
    ) == [(1, "Rule 2 (Tags): VIP is both required (Rule 1) and excluded; no member could match.")]


def test_top_n_twice_is_refused():
    assert refused([{"field": "top_points", "value": 10}, {"field": "top_points", "value": 5}]) == [
        (1, "Rule 2 (Top N by points): Top N by points can be used once.")
    ]


def test_too_many_rules():
    assert refused([{"field": "points", "value": {"min": 1}}] * 31) == [(None, "A segment has at most 30 rules.")]


def test_a_bad_segment_writes_nothing_and_says_what_is_wrong_with_name_and_rules(chain, tiers):
    audited = AuditEntry.objects.count()

    with pytest.raises(SegmentInvalid) as error:
        segment_create(actor=chain.marketer, name="  ", rules=[{"field": "tier", "value": []}])

    assert error.value.message_dict == {
        "name": ["Give the segment a name."],
        "rules": ["Rule 1 (Tier): Choose at least one."],
    }
    assert error.value.rule_errors == [(0, "Rule 1 (Tier): Choose at least one.")]
    assert not Segment.objects.exists() and AuditEntry.objects.count() == audited
