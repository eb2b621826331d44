import pytest
from django.core.exceptions import PermissionDenied

from stores.permissions import require_staff_can, staff_can
from stores.roles import Action
from stores.selectors import stores_for_staff
from stores.services import staff_set_stores
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

TILL = [
    Action.USE_TABLET,
    Action.LOOKUP_MEMBER,
    Action.REGISTER_MEMBER,
    Action.SELL,
    Action.TOP_UP,
    Action.USE_SERVICE_CARD,
    Action.BOOK_APPOINTMENT,
]
MANAGER_ONLY = [Action.APPROVE_REFUND, Action.ADJUST_POINTS, Action.VIEW_STORE_FIGURES, Action.MANAGE_SERVICE_CARDS]
BACK_OFFICE = [Action.VIEW_MEMBERS, Action.EXPORT_DATA, Action.MANAGE_CAMPAIGNS, Action.VIEW_ANALYTICS]
HQ_ADMIN_ONLY = [Action.MANAGE_STAFF, Action.MANAGE_RULES, Action.MANAGE_STORES, Action.VIEW_FULL_PHONE]


def test_hq_admin_may_do_everything_at_every_store(chain):
    for action in Action:
        assert staff_can(chain.hq_admin, action, chain.store_a)
        assert staff_can(chain.hq_admin, action, chain.store_b)


@pytest.mark.parametrize("action", BACK_OFFICE)
def test_marketer_may_read_members_run_campaigns_and_export(chain, action):
    assert staff_can(chain.marketer, action)


@pytest.mark.parametrize("action", TILL + MANAGER_ONLY + HQ_ADMIN_ONLY + [Action.EDIT_MEMBERS])
def test_marketer_may_not_work_the_till_or_manage_staff(chain, action):
    assert not staff_can(chain.marketer, action, chain.store_a)


@pytest.mark.parametrize("action", TILL + MANAGER_ONLY + [Action.REQUEST_REFUND])
def test_manager_works_at_their_own_store_only(chain, action):
    assert staff_can(chain.manager_a, action, chain.store_a)
    assert not staff_can(chain.manager_a, action, chain.store_b)


@pytest.mark.parametrize("action", BACK_OFFICE + HQ_ADMIN_ONLY)
def test_manager_has_no_back_office(chain, action):
    assert not staff_can(chain.manager_a, action, chain.store_a)


@pytest.mark.parametrize("action", [*TILL, Action.REQUEST_REFUND])
def test_cashier_rings_up_at_their_own_store_only(chain, action):
    assert staff_can(chain.cashier_a, action, chain.store_a)
    assert not staff_can(chain.cashier_a, action, chain.store_b)
    assert staff_can(chain.cashier_b, action, chain.store_b)
    assert not staff_can(chain.cashier_b, action, chain.store_a)


@pytest.mark.parametrize("action", MANAGER_ONLY + BACK_OFFICE + HQ_ADMIN_ONLY)
def test_cashier_needs_a_manager_for_refunds_and_adjustments(chain, action):
    assert not staff_can(chain.cashier_a, action, chain.store_a)


def test_nobody_sells_at_a_closed_store(chain):
    chain.store_a.is_active = False
    chain.store_a.save(update_fields=["is_active"])
    assert not staff_can(chain.cashier_a, Action.SELL, chain.store_a)
    assert not staff_can(chain.hq_admin, Action.SELL, chain.store_a)


def test_an_inactive_login_may_do_nothing(chain):
    chain.manager_a.is_active = False
    assert not staff_can(chain.manager_a, Action.SELL, chain.store_a)


def test_anonymous_may_do_nothing(chain):
    from django.contrib.auth.models import AnonymousUser

    assert not staff_can(AnonymousUser(), Action.LOOKUP_MEMBER, chain.store_a)


def test_a_store_scoped_question_without_a_store_means_at_any_of_theirs(chain):
    assert staff_can(chain.cashier_a, Action.SELL)
    assert not staff_can(chain.cashier_a, Action.APPROVE_REFUND)


def test_require_names_the_store_it_refused(chain):
    with pytest.raises(PermissionDenied, match="BJ001"):
        require_staff_can(chain.cashier_a, Action.SELL, chain.store_b)


def test_moving_a_cashier_to_another_store_takes_effect_at_once(chain):
    assert staff_can(chain.cashier_a, Action.SELL, chain.store_a)
    staff_set_stores(actor=chain.hq_admin, user=chain.cashier_a, stores=[chain.store_b])
    assert staff_can(chain.cashier_a, Action.SELL, chain.store_b)
    assert not staff_can(chain.cashier_a, Action.SELL, chain.store_a)


def test_the_answer_costs_two_queries_per_user_and_then_none(chain, django_assert_num_queries):
    cashier = type(chain.cashier_a).objects.get(pk=chain.cashier_a.pk)
    with django_assert_num_queries(2):
        for action in Action:
            staff_can(cashier, action, chain.store_a)
            staff_can(cashier, action, chain.store_b)


def test_the_stores_a_staff_member_may_choose_at_the_tablet(chain):
    StoreFactory(code="GZ001")
    assert list(stores_for_staff(chain.cashier_a)) == [chain.store_a]
    assert {s.code for s in stores_for_staff(chain.hq_admin)} == {"SH001", "BJ001", "GZ001"}
    assert list(stores_for_staff(chain.marketer)) == list(stores_for_staff(chain.hq_admin))
