"""The API limits its callers (issue 16, item 4): wrong tokens by address (10 a minute), calls and writes by
account; past a limit the answer is 429 "throttled" with Retry-After, in the error format, and nothing is
written. The throttles' clock is held still (and moved by hand), so no test depends on how fast it runs."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.api.conftest import assert_error
from tests.factories.stores import integration_token

pytestmark = pytest.mark.django_db

WRONG = "Token 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: clock.now)
    return clock


@pytest.fixture
def rates(settings):
    """rates(write="3/min") → those throttle rates from now on."""

    def _set(**scopes):
        framework = dict(settings.REST_FRAMEWORK)
        framework["DEFAULT_THROTTLE_RATES"] = {**framework["DEFAULT_THROTTLE_RATES"], **scopes}
        settings.REST_FRAMEWORK = framework

    return _set


def with_token(token: str, address: str = "10.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=token)
    return client


def test_wrong_tokens_from_one_address_are_refused_with_429_after_ten(member, clock):
    client = with_token(WRONG)

    answers = [client.get(f"/api/v1/members/{member.code}/") for _ in range(10)]
    eleventh = client.get(f"/api/v1/members/{member.code}/")

    for answer in answers:
        assert_error(answer, 401, "authentication_failed")
    assert_error(eleventh, 429, "throttled", None)
    assert eleventh["Retry-After"] == "60"


def test_while_an_address_is_throttled_not_even_a_good_token_is_tried_from_there(chain, member, clock):
    good = f"Token {integration_token(chain.hq_admin)}"
    for _ in range(10):
        with_token(WRONG).get(f"/api/v1/members/{member.code}/")

    from_there = with_token(good).get(f"/api/v1/members/{member.code}/")
    from_elsewhere = with_token(good, address="10.0.0.2").get(f"/api/v1/members/{member.code}/")

    assert_error(from_there, 429, "throttled")
    assert from_elsewhere.status_code == 200


def test_wrong_tokens_are_tried_again_once_the_minute_has_passed(member, clock):
    client = with_token(WRONG)
    for _ in range(10):
        client.get(f"/api/v1/members/{member.code}/")
    clock.advance(30)
    assert client.get(f"/api/v1/members/{member.code}/")["Retry-After"] == "30"

    clock.advance(31)

    assert_error(client.get(f"/api/v1/members/{member.code}/"), 401, "authentication_failed")


def test_good_tokens_are_not_counted_as_wrong_ones(chain, member, clock):
    client = with_token(f"Token {integration_token(chain.hq_admin)}")

    answers = [client.get(f"/api/v1/members/{member.code}/").status_code for _ in range(15)]

    assert answers == [200] * 15


@pytest.mark.parametrize(
    ("language", "message"), [("en", "Too many requests. Try again in 60 seconds."), ("zh-hans", "请求过于频繁")]
)
def test_the_429_says_when_to_try_again_in_the_callers_language(member, clock, language, message):
    client = with_token(WRONG)
    for _ in range(10):
        client.get(f"/api/v1/members/{member.code}/")

    body = client.get(f"/api/v1/members/{member.code}/", HTTP_ACCEPT_LANGUAGE=language).json()

    assert message in body["message"]


def test_writes_past_their_rate_are_refused_and_write_nothing_while_reads_go_on(
    chain, member, sell, snapshot, clock, rates, as_user
):
    rates(write="3/min")
    for _ in range(3):
        assert sell(member.code, amount="10.00").status_code == 201
    before = snapshot()

    fourth = sell(member.code, amount="10.00")
    read = as_user(chain.cashier_a).get(f"/api/v1/members/{member.code}/")

    assert_error(fourth, 429, "throttled", None)
    assert fourth["Retry-After"] == "60"
    before.assert_unchanged()
    assert read.status_code == 200


def test_each_account_has_its_own_count(chain, member, sell, clock, rates):
    rates(write="3/min")
    for _ in range(3):
        sell(member.code, amount="10.00", user=chain.cashier_a)

    assert sell(member.code, amount="10.00", user=chain.manager_a).status_code == 201


def test_calls_past_the_accounts_rate_are_refused(chain, member, as_user, clock, rates):
    rates(user="5/min")
    client = as_user(chain.cashier_a)
    for _ in range(5):
        assert client.get(f"/api/v1/members/{member.code}/").status_code == 200

    assert_error(client.get(f"/api/v1/members/{member.code}/"), 429, "throttled")
    clock.advance(61)
    assert client.get(f"/api/v1/members/{member.code}/").status_code == 200


def test_a_token_that_is_not_text_is_a_wrong_token_not_a_crash(member, clock):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token \xff\xfe\xfd")

    assert_error(client.get(f"/api/v1/members/{member.code}/"), 401, "authentication_failed")
