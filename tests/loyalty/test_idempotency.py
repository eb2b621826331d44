"""loyalty.services.idempotency.replay, the one rule every write with a request id answers through: the
first answer to whoever may do the same where it was done, 409 to anyone else or for anything else."""

import pytest
from django.core.exceptions import ValidationError

from loyalty.services.idempotency import replay
from stores.roles import Action

pytestmark = pytest.mark.django_db


class Answer:
    """What a write answered the first time."""


def code(error: pytest.ExceptionInfo) -> str:
    return error.value.error_dict["request_id"][0].code


def test_the_same_request_by_someone_of_the_same_store_is_the_first_answer_marked_as_a_replay(chain):
    first = Answer()

    again = replay(first, same=True, actor=chain.manager_a, action=Action.SELL, store=chain.store_a)

    assert again is first and again.replayed is True


def test_another_payload_is_refused(chain):
    with pytest.raises(ValidationError) as refused:
        replay(Answer(), same=False, actor=chain.cashier_a, action=Action.SELL, store=chain.store_a)

    assert code(refused) == "request_id_reused"


def test_someone_who_may_not_act_where_the_original_was_made_is_refused(chain):
    with pytest.raises(ValidationError) as refused:
        replay(Answer(), same=True, actor=chain.cashier_b, action=Action.SELL, store=chain.store_a)

    assert code(refused) == "request_id_reused"


def test_an_hq_write_made_without_a_store_replays_to_chain_wide_roles_only(chain):
    # A manager may adjust points "at some store", but an adjustment without a store was HQ's.
    with pytest.raises(ValidationError):
        replay(Answer(), same=True, actor=chain.manager_a, action=Action.ADJUST_POINTS, store=None)

    assert replay(Answer(), same=True, actor=chain.hq_admin, action=Action.ADJUST_POINTS, store=None).replayed
