"""What every endpoint answers to wrong, hostile or unauthenticated requests: always 4xx with
{"code", "message", "field"}, never a 500, and nothing written."""

import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from config.api import MAX_BODY_BYTES
from loyalty.models import Sale
from tests.api.conftest import assert_error, rid, sale_payload
from tests.factories.loyalty import RechargePackageFactory
from tests.factories.stores import integration_token

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/v1/members/", "/api/v1/sales/", "/api/v1/wallet/topups/", "/api/v1/points/adjustments/"]


@pytest.fixture
def sale(member, sell):
    return Sale.objects.get(pk=sell(member.code, "100.00").json()["id"])


def post_raw(client, url, body: bytes, content_type="application/json", **extra):
    return client.generic("POST", url, body, content_type=content_type, **extra)


# Who is asking


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/members/lookup/?q=13800138000"),
        ("get", "/api/v1/members/9000000000/"),
        *[("post", url) for url in ENDPOINTS],
        ("post", "/api/v1/sales/1/refunds/"),
    ],
)
def test_a_caller_who_is_not_logged_in_gets_401(api, member, snapshot, method, url):
    before = snapshot()

    response = getattr(api, method)(url, {}, format="json") if method == "post" else api.get(url)

    assert_error(response, 401, "not_authenticated", None)
    assert response["WWW-Authenticate"].startswith("Token")
    before.assert_unchanged()


def test_a_wrong_token_gets_401(member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")

    assert_error(client.get(f"/api/v1/members/{member.code}/"), 401, "authentication_failed")


def test_a_token_authenticates_an_integration(chain, member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {integration_token(chain.hq_admin)}")

    response = client.get(f"/api/v1/members/{member.code}/")

    assert response.status_code == 200
    assert response.json()["phone"] == "+8613800138000"


def test_the_tablet_logs_in_with_a_session_and_must_send_the_csrf_token(chain, member):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(chain.cashier_a)
    payload = sale_payload(member=member.code, amount="10.00")

    without = client.post("/api/v1/sales/", payload, format="json")
    client.get("/admin/login/")  # sets the CSRF cookie, as the tablet's page does
    with_token = client.post(
        "/api/v1/sales/", payload, format="json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )

    body = assert_error(without, 403, "forbidden")
    assert "CSRF" in body["message"]
    assert with_token.status_code == 201, with_token.content


def test_the_message_speaks_the_callers_language(chain, as_user, member):
    payload = sale_payload(member=member.code, amount="10.00")
    client = as_user(chain.cashier_b)

    english = client.post("/api/v1/sales/", payload, format="json", HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.post(
        "/api/v1/sales/", {**payload, "request_id": rid()}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert english.json()["message"] == "You may not do this at store SH001."
    assert chinese.json()["message"] == "您无权在门店 SH001 执行此操作。"
    assert english.json()["code"] == chinese.json()["code"] == "forbidden"


# Bodies the API cannot read


@pytest.mark.parametrize(
    "body",
    [
        b'{"request_id": "abc",',
        b"{'single': 'quotes'}",
        b'{"points": NaN}',
        b'{"points": Infinity}',
        b'{"points": -Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        '{"name": "李娜"}'.encode("gbk"),
        b"\xff\xfe\x00\x00",
        b'{"points": 1' + b"0" * 5000 + b"}",
    ],
    ids=[
        "truncated",
        "quotes",
        "nan",
        "infinity",
        "-infinity",
        "deep-list",
        "deep-object",
        "gbk",
        "bad-bytes",
        "int-5000-digits",
    ],
)
@pytest.mark.parametrize("url", ENDPOINTS)
def test_malformed_json_is_a_parse_error(chain, as_user, member, snapshot, url, body):
    before = snapshot()

    assert_error(post_raw(as_user(chain.hq_admin), url, body), 400, "parse_error", None)
    before.assert_unchanged()


def test_json_in_gbk_is_read_when_the_charset_says_so(chain, as_user, policy):
    body = json.dumps({"phone": "13912345678", "name": "李娜", "store": "SH001"}, ensure_ascii=False).encode("gbk")

    response = post_raw(as_user(chain.cashier_a), "/api/v1/members/", body, "application/json; charset=gbk")

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "李娜"


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_body_over_one_megabyte_is_refused_with_413(chain, as_user, member, snapshot, url):
    before = snapshot()
    padding = "x" * MAX_BODY_BYTES
    body = json.dumps({**sale_payload(member=member.code), "coupon_code": padding}).encode()

    assert_error(post_raw(as_user(chain.hq_admin), url, body), 413, "payload_too_large", None)
    before.assert_unchanged()


def test_a_body_beyond_djangos_own_upload_limit_is_still_a_json_413(chain, as_user, member, snapshot):
    before = snapshot()
    body = b'{"coupon_code": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    assert_error(post_raw(as_user(chain.hq_admin), "/api/v1/sales/", body), 413, "payload_too_large")
    before.assert_unchanged()


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(chain, as_user, member, snapshot):
    before = snapshot()

    response = post_raw(as_user(chain.hq_admin), "/api/v1/sales/", b"{}", CONTENT_LENGTH=str(50 * 1024 * 1024))

    assert_error(response, 413, "payload_too_large")
    before.assert_unchanged()


class ReadsTheBody:
    """A middleware that reads request.body, as a logging or signing middleware might."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.body  # noqa: B018
        return self.get_response(request)


def test_when_django_refuses_a_body_before_the_api_the_answer_is_still_json(chain, client, settings, member):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.api.test_api_errors.ReadsTheBody"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client.force_login(chain.cashier_a)

    response = client.post("/api/v1/sales/", {"coupon_code": "x" * 5000}, content_type="application/json")

    assert_error(response, 413, "payload_too_large")


def test_a_form_post_is_an_unsupported_media_type(chain, as_user, member, snapshot):
    before = snapshot()

    response = as_user(chain.hq_admin).post("/api/v1/sales/", {"store": "SH001"}, format="multipart")

    assert_error(response, 415, "unsupported_media_type")
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/api/v1/sales/"), ("delete", "/api/v1/members/9000000000/"), ("put", "/api/v1/wallet/topups/")],
)
def test_a_wrong_method_is_405(chain, as_user, method, url):
    response = getattr(as_user(chain.hq_admin), method)(url)

    assert_error(response, 405, "method_not_allowed")


def test_an_unknown_api_address_is_a_json_404_and_other_pages_keep_their_html_404(chain, as_user):
    client = as_user(chain.hq_admin)

    assert_error(client.get("/api/v1/nothing-here/"), 404, "not_found")
    assert client.get("/nothing-here/")["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "body", [[], "a string", 42, None, [sale_payload()]], ids=["list", "string", "number", "null", "list-of-sales"]
)
@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_body_that_is_not_an_object_is_refused(chain, as_user, member, snapshot, url, body):
    before = snapshot()

    response = post_raw(as_user(chain.hq_admin), url, json.dumps(body).encode())

    assert_error(response, 400, "null" if body is None else "invalid", None)
    before.assert_unchanged()


# Hostile payloads: every one is answered 4xx with the error shape and writes nothing.

LINE = {"category": "饮品", "quantity": "1", "unit_price": "10.00"}
TENDER = {"kind": "cash", "amount": "10.00"}


def _sale(**overrides):
    return {
        "request_id": "hostile-0001",
        "store": "SH001",
        "member": "13800138000",
        "lines": [LINE],
        "tenders": [TENDER],
        **overrides,
    }


def _line(**overrides):
    return _sale(lines=[{**LINE, **overrides}])


HOSTILE_SALES = {
    "points-a-word": _sale(points="lots"),
    "points-a-float": _sale(points=1.5),
    "points-bool": _sale(points=True),
    "points-huge": _sale(points=10**30),
    "points-object": _sale(points={"$gt": 0}),
    "quantity-a-word": _line(quantity="two"),
    "quantity-tiny": _line(quantity="1e-30"),
    "quantity-huge": _line(quantity="1e30"),
    "quantity-list": _line(quantity=[1]),
    "price-with-comma": _line(unit_price="12,50"),
    "price-nan": _line(unit_price="NaN"),
    "price-infinity": _line(unit_price="Infinity"),
    "price--infinity": _line(unit_price="-Infinity"),
    "price-float-inf": _line(unit_price=1e308 * 10),
    "price-huge-float": _line(unit_price=1e308),
    "price-400-digits": _line(unit_price="1" + "0" * 400),
    "price-3-decimals": _line(unit_price="10.001"),
    "price-bool": _line(unit_price=True),
    "price-negative": _line(unit_price="-10.00"),
    "price-absurd": _line(unit_price="9999999999.99"),
    "category-object": _line(category={"a": 1}),
    "category-null-byte": _line(category="饮\x00品"),
    "category-surrogate": _line(category="\ud800"),
    "category-too-long": _line(category="咖" * 65),
    "category-empty": _line(category=""),
    "sku-null-byte": _line(sku="SKU\x00"),
    "lines-a-string": _sale(lines="SELECT * FROM loyalty_sale"),
    "lines-strings": _sale(lines=["a", "b"]),
    "lines-null": _sale(lines=None),
    "lines-10000": _sale(lines=[LINE] * 10_000, tenders=[{"kind": "cash", "amount": "100000.00"}]),
    "lines-201": _sale(lines=[LINE] * 201, tenders=[{"kind": "cash", "amount": "2010.00"}]),
    "tenders-an-object": _sale(tenders={"cash": 10}),
    "tenders-100": _sale(tenders=[TENDER] * 100),
    "tender-kind-null": _sale(tenders=[{"kind": None, "amount": "10.00"}]),
    "tender-kind-sql": _sale(tenders=[{"kind": "cash' OR '1'='1", "amount": "10.00"}]),
    "tender-amount-nan": _sale(tenders=[{"kind": "cash", "amount": "nan"}]),
    "store-object": _sale(store={"$ne": None}),
    "store-sql": _sale(store="SH001' OR '1'='1"),
    "store-emoji": _sale(store="🏪" * 10),
    "store-null-byte": _sale(store="SH\x00001"),
    "store-missing": {k: v for k, v in _sale().items() if k != "store"},
    "member-sql": _sale(member="'; DROP TABLE members_member;--"),
    "member-list": _sale(member=["13800138000"]),
    "member-emoji": _sale(member="😀😀😀"),
    "member-huge": _sale(member="1" * 100_000),
    "request-id-500": _sale(request_id="a" * 500),
    "request-id-900k": _sale(request_id="a" * 900_000),
    "request-id-emoji": _sale(request_id="😀" * 10),
    "request-id-null-byte": _sale(request_id="abcdefgh\x00"),
    "request-id-sql": _sale(request_id="1'; DELETE FROM loyalty_sale;--"),
    "request-id-number": _sale(request_id=12),
    "request-id-missing": {k: v for k, v in _sale().items() if k != "request_id"},
    "coupon-object": _sale(coupon_code={"code": "X"}),
    "coupon-sql": _sale(coupon_code="' OR 1=1 --"),
    "client-time-garbage": _sale(client_time="yesterday"),
    "client-time-year-1": _sale(client_time="0001-01-01T00:00:00"),
    "client-time-overflow": _sale(client_time="9999-12-31T23:59:59-12:00"),
    "client-time-number": _sale(client_time=1_700_000_000),
}

HOSTILE_REFUNDS = {
    "amount-nan": {"amount": "NaN"},
    "amount-word": {"amount": "all of it"},
    "amount-negative": {"amount": "-5"},
    "amount-huge": {"amount": "1e30"},
    "lines-word": {"lines": "1"},
    "line-no-sql": {"lines": [{"line_no": "1; DROP TABLE loyalty_sale", "quantity": "1"}]},
    "line-no-huge": {"lines": [{"line_no": 10**30, "quantity": "1"}]},
    "line-unknown": {"lines": [{"line_no": 99, "quantity": "1"}]},
    "line-twice": {"lines": [{"line_no": 1, "quantity": "0.5"}, {"line_no": 1, "quantity": "0.5"}]},
    "line-quantity-negative": {"lines": [{"line_no": 1, "quantity": "-1"}]},
    "lines-10000": {"lines": [{"line_no": 1, "quantity": "1"}] * 10_000},
    "approver-a-string": {"amount": "1", "approver": "manager_a"},
    "approver-injection": {"amount": "1", "approver": {"username": {"$gt": ""}, "password": []}},
    "approver-no-password": {"amount": "1", "approver": {"username": "manager_a"}},
    "reason-null-byte": {"amount": "1", "reason": "退\x00货"},
    "reason-too-long": {"amount": "1", "reason": "退" * 256},
    "reason-object": {"amount": "1", "reason": {"why": "x"}},
    "store-unknown": {"amount": "1", "store": "XX999"},
    "nothing": {},
}

HOSTILE_OTHERS = [
    ("/api/v1/members/", {"phone": {"a": 1}, "name": "李娜", "store": "SH001"}),
    ("/api/v1/members/", {"phone": "+" + "9" * 10_000, "name": "李娜", "store": "SH001"}),
    ("/api/v1/members/", {"phone": "13912345678\x00", "name": "李娜", "store": "SH001"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李\x00娜", "store": "SH001"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "😀", "store": "SH001"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "王" * 10_000, "store": "SH001"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": "SH001", "birthday": "0000-00-00"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": "SH001", "birthday": "1066-10-14"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": "SH001", "referrer": "' OR 1=1"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": "SH001", "email": "a@" + "b" * 300}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": "SH001", "marketing_consent": "maybe"}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": ["SH001"]}),
    ("/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": "SH001", "channel": "import"}),
    (
        "/api/v1/wallet/topups/",
        {"request_id": rid(), "member": "13800138000", "store": "SH001", "tender": "cash", "amount": "NaN"},
    ),
    (
        "/api/v1/wallet/topups/",
        {"request_id": rid(), "member": "13800138000", "store": "SH001", "tender": "cash", "amount": 1e308},
    ),
    (
        "/api/v1/wallet/topups/",
        {"request_id": rid(), "member": "13800138000", "store": "SH001", "tender": "cash", "package": 10**30},
    ),
    (
        "/api/v1/wallet/topups/",
        {"request_id": rid(), "member": "13800138000", "store": "SH001", "tender": "cash", "package": "1 OR 1=1"},
    ),
    (
        "/api/v1/wallet/topups/",
        {"request_id": rid(), "member": "13800138000", "store": "SH001", "tender": ["cash"], "amount": "1"},
    ),
    (
        "/api/v1/wallet/topups/",
        {"request_id": "a" * 500, "member": "13800138000", "store": "SH001", "tender": "cash", "amount": "1"},
    ),
    (
        "/api/v1/wallet/topups/",
        {"request_id": rid(), "member": {"$ne": 1}, "store": "SH001", "tender": "cash", "amount": "1"},
    ),
    ("/api/v1/points/adjustments/", {"request_id": rid(), "member": "13800138000", "points": 10**30, "reason": "x"}),
    ("/api/v1/points/adjustments/", {"request_id": rid(), "member": "13800138000", "points": "1e3", "reason": "x"}),
    (
        "/api/v1/points/adjustments/",
        {"request_id": rid(), "member": "13800138000", "points": 100_000_000, "reason": "x"},
    ),
    ("/api/v1/points/adjustments/", {"request_id": rid(), "member": "13800138000", "points": 10, "reason": "\x00"}),
    ("/api/v1/points/adjustments/", {"request_id": "a" * 500, "member": "13800138000", "points": 10, "reason": "x"}),
    (
        "/api/v1/points/adjustments/",
        {"request_id": rid(), "member": "13800138000", "points": 10, "reason": "x", "store": {}},
    ),
]


def _assert_refused_and_nothing_written(response, before):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"code", "message", "field"}, body
    assert isinstance(body["code"], str) and body["code"] and body["message"]
    before.assert_unchanged()


@pytest.mark.parametrize("payload", HOSTILE_SALES.values(), ids=HOSTILE_SALES.keys())
def test_hostile_sales_are_refused_and_write_nothing(chain, as_user, member, snapshot, payload):
    before = snapshot()

    response = post_raw(as_user(chain.hq_admin), "/api/v1/sales/", json.dumps(payload).encode())

    _assert_refused_and_nothing_written(response, before)


@pytest.mark.parametrize("fields", HOSTILE_REFUNDS.values(), ids=HOSTILE_REFUNDS.keys())
def test_hostile_refunds_are_refused_and_write_nothing(chain, as_user, sale, snapshot, fields):
    before = snapshot()
    payload = {"request_id": rid(), "reason": "退货", **fields}

    response = post_raw(as_user(chain.cashier_a), f"/api/v1/sales/{sale.pk}/refunds/", json.dumps(payload).encode())

    _assert_refused_and_nothing_written(response, before)


@pytest.mark.parametrize(
    ("url", "payload"), HOSTILE_OTHERS, ids=[f"{u.split('/')[3]}-{i}" for i, (u, _p) in enumerate(HOSTILE_OTHERS)]
)
def test_hostile_registrations_top_ups_and_adjustments_are_refused_and_write_nothing(
    chain, as_user, member, snapshot, url, payload
):
    RechargePackageFactory()
    before = snapshot()

    response = post_raw(as_user(chain.manager_a), url, json.dumps(payload).encode())

    _assert_refused_and_nothing_written(response, before)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/members/lookup/?q=%00",
        "/api/v1/members/lookup/?q=" + "1" * 65,
        "/api/v1/members/lookup/?q=MBR1.x.y.z",
        "/api/v1/members/lookup/?q=MBR1.9000000000.99999999999999999999999.abc",
        "/api/v1/members/lookup/?q=138&store=%00",
        "/api/v1/members/lookup/?q=138&store=' OR 1=1",
        "/api/v1/members/%F0%9F%98%80/",
        "/api/v1/members/%00/",
        "/api/v1/members/" + "9" * 5000 + "/",
        "/api/v1/sales/99999999999999999999999999/refunds/",
    ],
)
def test_hostile_reads_are_answered_4xx(chain, as_user, member, path):
    response = as_user(chain.cashier_a).get(path) if "refunds" not in path else as_user(chain.cashier_a).post(path, {})

    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert set(response.json()) == {"code", "message", "field"}


# The schema


def test_the_openapi_schema_describes_every_call_without_a_warning(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = target.read_text()
    for path in [
        "/api/v1/members/:",
        "/api/v1/members/lookup/:",
        "/api/v1/members/{reference}/:",
        "/api/v1/sales/:",
        "/api/v1/sales/{sale_id}/refunds/:",
        "/api/v1/wallet/topups/:",
        "/api/v1/points/adjustments/:",
        "/api/v1/coupons/:",
        "/api/v1/mall/items/:",
        "/api/v1/mall/orders/:",
        "/api/v1/mall/orders/{order_id}/hand-over/:",
        "/api/v1/mall/orders/{order_id}/cancel/:",
    ]:
        assert path in schema
    assert "MemberSummary:" in schema and "tier_progress:" in schema and "free_shipping:" in schema
    assert "CouponSummary:" in schema and "valid_until:" in schema
