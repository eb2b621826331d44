"""Finding a member with the network down, in real Chromium at 1024×768: the tablet keeps the members a
cashier opened with their phones masked and a tag of the hidden digits (members.phones.offline_phone_tag),
never a phone or a hash of one; the full phone typed at the till still finds the member, a slip does not,
and logging out forgets them all.

Screenshots: test-artifacts/screenshots/tablet-offline-lookup-*.png."""

import json
import random

import pytest
from django.core.exceptions import ValidationError

from members.phones import mask_phone, normalize_phone, offline_phone_tag
from tests.factories import MemberFactory
from tests.members.phone_digests import candidates_of, fast_digests_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
SHELL_CACHED = """async () => {
  const names = await caches.keys();
  return names.length > 0 && (await (await caches.open(names[0])).keys()).length >= 10;
}"""
# What the tablet's IndexedDB holds, read as any script of the page could.
READ_DB = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("member-till");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const read = (name) => new Promise((resolve) => {
    if (!db.objectStoreNames.contains(name)) return resolve([]);
    const request = db.transaction(name).objectStore(name).getAll();
    request.onsuccess = () => resolve(request.result);
  });
  const result = { version: db.version, members: await read("members"), queue: await read("queue") };
  db.close();
  return result;
}"""


@pytest.fixture
def members(chain):
    fang = MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)
    # The same masked phone, 138****5678, and another tag (9876 % 61 = 55, 1234 % 61 = 14).
    na = MemberFactory(phone="13898765678", name="李娜", home_store=chain.store_a)
    return fang, na


def log_in_at_till(page, live_server, username="cashier_a"):
    page.goto(f"{live_server.url}/tablet/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/tablet/")


def find_offline(page, text):
    page.evaluate("() => document.getElementById('results').replaceChildren()")
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_selector("#results .msg.warning")
    return page.locator("#results .results .name").all_inner_texts()


def test_the_tablet_masks_and_tags_a_typed_phone_as_the_server_does(live_server, chain, tablet_page):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    numbers = random.Random(16).sample(range(10**10), 400)
    typed = [f"1{n:010d}" for n in numbers] + [
        "138 1234 5678",
        "+86 138-1234-5678",
        "008613812345678",
        "8613812345678",
        "１３８１２３４５６７８",
        "(138) 1234.5678",
        "+14155552671",
        "+85291234567",
    ]
    expected = {}
    for text in typed:
        try:
            e164 = normalize_phone(text)
        except ValidationError:
            continue
        expected[text] = [e164, mask_phone(e164), offline_phone_tag(e164)]
    assert len(expected) > 100

    computed = page.evaluate(
        """(texts) => Object.fromEntries(texts.map((text) => {
          const e164 = window.TabletStore.phoneE164(text);
          return [text, [e164, window.TabletStore.maskPhone(e164), window.TabletStore.phoneTag(e164)]];
        }))""",
        list(expected),
    )

    assert computed == expected


def test_offline_the_full_phone_typed_finds_the_member_and_a_slip_finds_nobody(
    live_server, chain, members, tablet_page, screenshot
):
    fang, na = members
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server)
    # A list of results is not kept: only the members opened.
    page.fill("#q", "138")
    page.wait_for_selector("#results .results .result")
    for member in (fang, na):
        page.goto(f"{live_server.url}/tablet/m/{member.code}/")
    page.evaluate("() => navigator.serviceWorker.ready")
    page.goto(f"{live_server.url}/tablet/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.wait_for_function(SHELL_CACHED)

    kept = page.evaluate(READ_DB)["members"]
    assert sorted(m["name"] for m in kept) == ["李娜", "王芳"]
    for record in kept:
        assert record["phone"] == "138****5678" and record["phone_masked"] is True
        assert record["phone_tag"] in (14, 55)
        assert "phone_key" not in record
    stored = json.dumps(kept, ensure_ascii=False)
    assert "12345678" not in stored and "98765678" not in stored
    assert fast_digests_in(stored, candidates_of("138****5678")) == set()

    page.context.set_offline(True)
    page.wait_for_selector("#net-banner", state="visible")
    assert find_offline(page, "13812345678") == ["王芳"]
    screenshot(page, "tablet-offline-lookup-find-zh")
    assert find_offline(page, "138 9876 5678") == ["李娜"]
    # The same masked phone, one digit slipped or two swapped: nobody.
    assert find_offline(page, "13812355678") == []
    assert find_offline(page, "13821345678") == []
    assert page.is_visible("text=没有找到会员")
    assert find_offline(page, "王芳") == ["王芳"]
    assert find_offline(page, fang.code) == ["王芳"]

    find_offline(page, "13812345678")
    page.click("#results .result")
    page.wait_for_selector("#member-tools:not(.hidden)")  # the sell page from the service worker, 王芳 from IndexedDB
    assert "王芳" in page.inner_text("#member-box")
    screenshot(page, "tablet-offline-lookup-member-zh")


def test_logging_out_forgets_the_members_and_keeps_the_queued_sales(live_server, chain, members, tablet_page):
    fang, _na = members
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server)
    page.goto(f"{live_server.url}/tablet/m/{fang.code}/")
    # A sale another cashier queued on this tablet waits for them to log in.
    page.evaluate(
        """() => window.TabletStore.Queue.add({request_id: "queued-by-someone-else", user: "999", total: "10.00",
                                                payload: {request_id: "queued-by-someone-else"}})"""
    )
    assert len(page.evaluate(READ_DB)["members"]) == 1

    page.get_by_role("button", name="退出").click()
    page.wait_for_selector("input[name=username]")

    held = page.evaluate(READ_DB)
    assert held["members"] == []
    assert [entry["request_id"] for entry in held["queue"]] == ["queued-by-someone-else"]


def test_a_tablet_that_kept_phone_hashes_forgets_them_when_it_updates_and_keeps_its_queue(
    live_server, chain, members, tablet_page
):
    fang, _na = members
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    # The database as the previous version of the tablet left it: a member with a SHA-256 of the phone.
    page.goto(f"{live_server.url}/static/tablet/icon.svg")
    page.evaluate(
        """(code) => new Promise((resolve, reject) => {
          const gone = indexedDB.deleteDatabase("member-till");
          gone.onsuccess = () => {
            const request = indexedDB.open("member-till", 1);
            request.onupgradeneeded = () => {
              const db = request.result;
              db.createObjectStore("queue", { keyPath: "request_id" }).createIndex("queued_at", "queued_at");
              db.createObjectStore("members", { keyPath: "code" }).createIndex("seen_at", "seen_at");
            };
            request.onsuccess = () => {
              const db = request.result;
              const tx = db.transaction(["queue", "members"], "readwrite");
              tx.objectStore("queue").add({ request_id: "old-queued-sale", user: "999",
                queued_at: "2024-01-01T00:00:00Z", payload: { request_id: "old-queued-sale" } });
              tx.objectStore("members").add({ code: code, name: "王芳", phone: "138****5678", seen_at: Date.now(),
                phone_key: "5df7e7a6fbc4d8ad1f3a5b0b3bd1e39d0bb8f3b8b0f7bd67c4e2f7a1c5e2a9c1" });
              tx.oncomplete = () => { db.close(); resolve(); };
              tx.onerror = () => reject(tx.error);
            };
            request.onerror = () => reject(request.error);
          };
        })""",
        fang.code,
    )

    page.goto(f"{live_server.url}/tablet/")
    page.evaluate("() => window.TabletStore.Queue.all()")

    held = page.evaluate(READ_DB)
    assert held["version"] == 2
    assert held["members"] == []
    assert [entry["request_id"] for entry in held["queue"]] == ["old-queued-sale"]
