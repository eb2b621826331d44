"""Who may reach what: every URL pattern of the project, from Django's resolver, asked by each persona of the
`chain` fixture, against the table EXPECTED_TABLE below, written from DESIGN §5 and the README's "Roles" (not
from the code's permission functions). A URL with no row fails the test: add its row. Rows name admin pages by
model and view kind, so a new model or admin view needs a row of its own too.

Personas: anonymous; cashier_a and manager_a, who serve store A (SH001) and use a tablet working there; the
HQ marketer; the HQ admin. Where a URL or a request names a store's object (a sale, a member, a mall order) or
a store, it is asked twice: about store A's, then store B's (BJ001); export jobs are asked about the
marketer's own, then the HQ admin's. Every request is undone after its answer (tests/config/url_matrix.py).

Outcomes: `ok` reached (2xx, or a redirect that is not to a login, followed for pages); `login` sent to a
login page (401 from the API); `refused` 403 or 404 (the tablet's refusal page, or the admin's "does not
exist" for an object outside the persona's rows); `invalid` 400/409. A cell `ok/refused` is store A's
object / store B's. Pages are read with GET; a change page is also saved (`@save`: an empty form, POST);
API calls carry a body the service accepts from whoever may make it, so a refusal is the role or the store.

The matrix in short (URL patterns each persona reaches, with store A's object, of the group's; from the table,
checked by a test):

    group                  anonymous   cashier   manager  marketer  hq_admin
    site & logins                5/7       5/7       5/7       6/7       6/7
    tablet                      3/16     12/16     16/16      3/16     16/16
    API                         0/26     18/26     21/26      9/26     26/26
    admin: site                 0/16      0/16      0/16     10/16     13/16
    admin: auth & staff         0/16      0/16      0/16      0/16     16/16
    admin: schedules            0/35      0/35      0/35      0/35     35/35
    admin: stores               0/35      0/35      0/35      8/35     27/35
    admin: members              0/49      0/49      0/49     19/49     44/49
    admin: loyalty             0/110     0/110     0/110     4/110    76/110
    admin: campaigns            0/78      0/78      0/78     68/78     68/78
    admin: servicecards         0/56      0/56      0/56     32/56     48/56
    admin: analytics            0/29      0/29      0/29     17/29     18/29
    dashboards                  0/12      0/12      0/12     12/12     12/12
"""

from fnmatch import fnmatchcase

import pytest

from loyalty.selectors import sale_for_receipt
from stores.roles import ROLE_ACTIONS, Action, Role
from tests.config.url_matrix import (
    PERSONAS,
    Pattern,
    build_world,
    mismatches,
    parse_table,
    project_patterns,
    row_for,
    rowless,
    stale,
)

# The first row whose glob matches a URL's key says what each persona gets there: specific rows come first.
# An admin model's <read> pages are its list, change page, old change address and history; <write> its add and
# delete pages and saving its change page; <views> all seven (tests/config/url_matrix.py, ALIASES).
EXPECTED_TABLE = """
# URL name (glob: * any, {a,b} either)                       anonymous  cashier    manager    marketer   hq_admin
# --- site and logins: what a browser or a tablet needs before anyone logs in; none of it carries data -----
# "/" sends to the admin's index; healthz says up or down, no detail; the tablet's shell is static
/                                                            login      login      login      ok         ok
healthz                                                      ok         ok         ok         ok         ok
set_language                                                 ok         ok         ok         ok         ok
admin:{login,logout}                                         ok         ok         ok         ok         ok
tablet:login                                                 ok         ok         ok         ok         ok
tablet:logout                                                login      login      login      login      login
tablet:{offline,service-worker,manifest}                     ok         ok         ok         ok         ok

# --- the store tablet: store staff at the tablet's store, HQ admin everything, marketers never (DESIGN §5) --
tablet:{choose-store,find,register,sell,sales}               login      ok         ok         refused    ok
# a member of store A, then of store B: members are the chain's (found by lookup, masked)
tablet:{member,top-up}                                       login      ok         ok         refused    ok
# manual points adjustments: managers (up to a cap) and HQ
tablet:adjust                                                login      refused    ok         refused    ok
# a sale of store A, then of store B; a refund is made at the sale's store, by HQ too
tablet:receipt                                               login      ok/refused ok/refused refused    ok
tablet:refund                                                login      ok/refused ok/refused refused    ok/refused
# the store's figures and the sales to review: managers
tablet:{today,reviews,staff-figures}                         login      refused    ok         refused    ok

# --- the API: store staff as on the tablet, at their stores; HQ roles their part of the back office ---------
# the schema for back-office staff and integrations; the docs through the back office's login
api-schema                                                   login      refused    refused    ok         ok
api-docs                                                     login      login      login      ok         ok
# at store A, then naming store B
members-api:member-register                                  login      ok/refused ok/refused refused    ok
loyalty-api:{sale-checkout,sale-quote}                       login      ok/refused ok/refused refused    ok
loyalty-api:{wallet-topup,member-sign-in}                    login      ok/refused ok/refused refused    ok
campaigns-api:mall-order                                     login      ok/refused ok/refused refused    ok
# the till's search (marketers read members in the back office); a member's summary is the chain's
members-api:member-lookup                                    login      ok/refused ok/refused refused    ok
members-api:member-detail                                    login      ok         ok         ok         ok
# a sale of store A, then of B, refunded at its store; manager_a approves the cashier's refund
loyalty-api:sale-refund                                      login      ok/refused ok/refused refused    ok
# paying stored value back is approving a refund; adjusting points is managers' (capped) and HQ's
loyalty-api:{wallet-refund,points-adjustment}                login      refused    ok/refused refused    ok
# integrations report reviews and shares chain-wide: a role that edits members
loyalty-api:points-event                                     login      refused    refused    refused    ok
# withdrawing consent is always in the member's favour (a member of A, then of B)
campaigns-api:member-opt-out                                 login      ok         ok         ok         ok
campaigns-api:opt-out                                        login      ok         ok         ok         ok
campaigns-api:{coupon-issue,campaign-effect}                 login      refused    refused    ok         ok
campaigns-api:mall-items                                     login      ok/refused ok/refused ok         ok
# a gift waiting at store A, then at store B: handed over there; cancelled by its manager or HQ
campaigns-api:mall-order-hand-over                           login      ok/refused ok/refused refused    ok
campaigns-api:mall-order-cancel                              login      refused    ok/refused ok         ok
# appointments are the till's: at store A, then naming store B (or store B's appointment); HQ admin everywhere
servicecards-api:{store-slots,appointment-book}              login      ok/refused ok/refused refused    ok
servicecards-api:{appointment-cancel,appointment-no-show}    login      ok/refused ok/refused refused    ok
# a member of A, then of B: their upcoming appointments at the caller's stores (of the other store's, none)
servicecards-api:member-appointments                         login      ok         ok         refused    ok

# --- the back office (Django admin): HQ roles; store roles are no staff, so they go to the login ---------
admin:{index,jsi18n}                                         login      login      login      ok         ok
# one's own password
admin:password_change*                                       login      login      login      ok         ok
# no admin field autocompletes and no model has a public page; then an unknown admin address
admin:{autocomplete,view_on_site}                            login      login      login      refused    refused
/admin/(?P<url>.*)$                                          login      login      login      refused    refused

# staff, roles and the jobs' schedules (Django's and django-celery-beat's models): HQ admin
admin:app_list@{auth,django_celery_beat}                     login      login      login      refused    ok
admin:{auth,django_celery_beat}_*                            login      login      login      refused    ok

# stores: marketers read stores and regions (their filters). The audit is written by the services only,
# tokens are made and revoked by their own pages, lockouts lifted from their list: HQ admin's
admin:app_list@stores                                        login      login      login      ok         ok
admin:stores_{region,store}_<read>                           login      login      login      ok         ok
admin:stores_{region,store}_<write>                          login      login      login      refused    ok
admin:stores_{auditentry,loginlockout}_<read>                login      login      login      refused    ok
admin:stores_integrationtoken_{<read>,add}                   login      login      login      refused    ok
admin:stores_{auditentry,loginlockout}_<write>               login      login      login      refused    refused
admin:stores_integrationtoken_{delete,change@save}           login      login      login      refused    refused

# members: marketers read them (phones masked: tests/members/test_phones_in_every_output.py) and export them;
# HQ admin edits and imports. Jobs are records. An export is its asker's: the marketer's, then the HQ admin's
admin:app_list@members                                       login      login      login      ok         ok
admin:members_{member,tag}_<read>                            login      login      login      ok         ok
admin:members_member_{360,export}                            login      login      login      ok         ok
# members' rights under PIPL: erasing a member and handing them their data are the HQ admin's alone
admin:members_member_{erase,data}                            login      login      login      refused    ok
admin:members_{member,tag}_<write>                           login      login      login      refused    ok
admin:members_memberaccess_<read>                            login      login      login      refused    ok
admin:members_memberaccess_<write>                           login      login      login      refused    refused
admin:members_importjob_{upload,template}                    login      login      login      refused    ok
admin:members_importjob_{progress,errors,retry}              login      login      login      refused    ok
admin:members_importjob_{<read>,add,change@save}             login      login      login      refused    ok
admin:members_{importjob,exportjob}_delete                   login      login      login      refused    refused
admin:members_exportjob_{changelist,add}                     login      login      login      ok         ok
admin:members_exportjob_{change,change@old,history}          login      login      login      ok/refused ok
admin:members_exportjob_{progress,download,retry}            login      login      login      ok/refused ok
# the job page takes no form: saving it reads it
admin:members_exportjob_change@save                          login      login      login      ok/refused ok

# loyalty: HQ admin's rules (the settings and tier policy are one row each, kept); the ledgers are written by
# sales, refunds and adjustments only, never by hand. Marketers get its reports (analytics) and, as "exports"
# (DESIGN §5, README), the ledgers' exports for accountants, though they may not read the ledgers: questionable
admin:app_list@loyalty                                       login      login      login      refused    ok
admin:loyalty_{recharge_report,downgrade_risk}               login      login      login      ok         ok
admin:loyalty_{pointsentry,walletentry}_export               login      login      login      ok         ok
admin:loyalty_points_adjust                                  login      login      login      refused    ok
admin:loyalty_{tier,rechargepackage,earningrule}_<views>     login      login      login      refused    ok
admin:loyalty_{loyaltysettings,tierpolicy}_<read>            login      login      login      refused    ok
admin:loyalty_{loyaltysettings,tierpolicy}_change@save       login      login      login      refused    ok
admin:loyalty_{loyaltysettings,tierpolicy}_{add,delete}      login      login      login      refused    refused
admin:loyalty_{pointsaccount,pointsentry,pointslot}_<read>   login      login      login      refused    ok
admin:loyalty_{pointsaccount,pointsentry,pointslot}_<write>  login      login      login      refused    refused
admin:loyalty_{sale,refund,topup}_<read>                     login      login      login      refused    ok
admin:loyalty_{sale,refund,topup}_<write>                    login      login      login      refused    refused
admin:loyalty_{wallet,walletentry}_<read>                    login      login      login      refused    ok
admin:loyalty_{wallet,walletentry}_<write>                   login      login      login      refused    refused
admin:loyalty_{tierchange,memberstats}_<read>                login      login      login      refused    ok
admin:loyalty_{tierchange,memberstats}_<write>               login      login      login      refused    refused

# campaigns: the marketer's as much as the HQ admin's. Issued coupons, mall orders and messages are records;
# a coupon template is retired, not deleted (its coupons keep it)
admin:app_list@campaigns                                     login      login      login      ok         ok
admin:campaigns_{automation,campaign,segment}_<views>        login      login      login      ok         ok
admin:campaigns_{mallitem,messagetemplate}_<views>           login      login      login      ok         ok
admin:campaigns_automation_{effect,effects,dry_run}          login      login      login      ok         ok
admin:campaigns_automation_{switch,run}                      login      login      login      ok         ok
admin:campaigns_campaign_{effect,schedule,launch,cancel}     login      login      login      ok         ok
admin:campaigns_segment_{count,preview,recount,export}       login      login      login      ok         ok
admin:campaigns_{messagetemplate_preview,coupon_issue}       login      login      login      ok         ok
admin:campaigns_coupontemplate_{<read>,add,change@save}      login      login      login      ok         ok
admin:campaigns_coupontemplate_delete                        login      login      login      refused    refused
admin:campaigns_{coupon,mallorder,message}_<read>            login      login      login      ok         ok
admin:campaigns_{coupon,mallorder,message}_<write>           login      login      login      refused    refused

# service cards: HQ admin's configuration, audited; members' cards and their ledger change only through the card
# services (tablet, API). Marketers read it all (renewal campaigns, the roles' servicecards.view_*); store
# roles use the tablet
admin:app_list@servicecards                                  login      login      login      ok         ok
admin:servicecards_{service,cardproduct,servicestaff}_<read> login      login      login      ok         ok
admin:servicecards_{commissionrule,room}_<read>              login      login      login      ok         ok
admin:servicecards_{service,cardproduct,servicestaff}_<write> login     login      login      refused    ok
admin:servicecards_{commissionrule,room}_<write>             login      login      login      refused    ok
admin:servicecards_cardsettings_<read>                       login      login      login      ok         ok
admin:servicecards_cardsettings_change@save                  login      login      login      refused    ok
admin:servicecards_cardsettings_{add,delete}                 login      login      login      refused    refused
admin:servicecards_{membercard,cardentry}_<read>             login      login      login      ok         ok
admin:servicecards_{membercard,cardentry}_<write>            login      login      login      refused    refused

# analytics: computed by the scoring job, read by both HQ roles; its settings are HQ admin's (issue 16 #10)
admin:app_list@analytics                                     login      login      login      ok         ok
admin:analytics_{scoresettings,memberscore}_<read>           login      login      login      ok         ok
admin:analytics_{scoringrun,segmentsnapshot}_<read>          login      login      login      ok         ok
admin:analytics_memberscore_csv                              login      login      login      ok         ok
admin:analytics_scoresettings_change@save                    login      login      login      refused    ok
admin:analytics_scoresettings_{add,delete}                   login      login      login      refused    refused
admin:analytics_memberscore_<write>                          login      login      login      refused    refused
admin:analytics_{scoringrun,segmentsnapshot}_<write>         login      login      login      refused    refused
analytics_dashboard*                                         login      login      login      ok         ok
"""

EXPECTED = parse_table(EXPECTED_TABLE)

GROUPS = (
    ("site & logins", ("/", "healthz", "set_language", "admin:login", "admin:logout", "tablet:log*")),
    ("tablet", ("tablet:*",)),
    ("API", ("*-api:*", "api-*")),
    (
        "admin: site",
        (
            "admin:index",
            "admin:jsi18n",
            "admin:password_change*",
            "admin:autocomplete",
            "admin:view_on_site",
            "/admin/*",
            "admin:app_list@*",
        ),
    ),
    ("admin: auth & staff", ("admin:auth_*",)),
    ("admin: schedules", ("admin:django_celery_beat_*",)),
    ("admin: stores", ("admin:stores_*",)),
    ("admin: members", ("admin:members_*",)),
    ("admin: loyalty", ("admin:loyalty_*",)),
    ("admin: campaigns", ("admin:campaigns_*",)),
    ("admin: servicecards", ("admin:servicecards_*",)),
    ("admin: analytics", ("admin:analytics_*",)),
    ("dashboards", ("analytics_dashboard*",)),
)


def summary(patterns: list[Pattern], rows) -> str:
    """The docstring's matrix: per group of URLs and persona, how many patterns the persona reaches."""
    lines = [f"{'group':<22}" + "".join(f"{p:>10}" for p in PERSONAS)]
    left = list(patterns)
    for group, globs in GROUPS:
        members = [p for p in left if any(fnmatchcase(p.key, g) for g in globs)]
        left = [p for p in left if p not in members]
        reached = [sum(row_for(p.key, rows).cells[persona][0] == "ok" for p in members) for persona in PERSONAS]
        lines.append(f"{group:<22}" + "".join(f"{f'{n}/{len(members)}':>10}" for n in reached))
    assert not left, f"patterns in no group of GROUPS: {[p.key for p in left]}"
    return "\n".join(lines)


def test_every_url_pattern_of_the_project_has_a_row_in_the_table():
    missing = rowless(project_patterns(), EXPECTED)

    assert not missing, (
        "URLs with no row in EXPECTED_TABLE (tests/config/test_role_url_matrix.py): add a row saying who may "
        "reach each one\n  " + "\n  ".join(missing)
    )


def test_a_new_page_or_model_without_a_row_is_noticed():
    # Given a tablet page, a custom admin view of a known model, a new model's list and an API endpoint
    new = [
        Pattern("tablet:gift-cards", "tablet:gift-cards", "tablet/gift-cards/", ()),
        Pattern("admin:members_member_log", "admin:members_member_log", "admin/members/member/<id>/log/", ()),
        Pattern("admin:members_accesslog_changelist", "admin:members_accesslog_changelist", "admin/members/…", ()),
        Pattern("loyalty-api:gift-cards", "loyalty-api:gift-cards", "api/v1/gift-cards/", ()),
    ]

    assert len(rowless(project_patterns() + new, EXPECTED)) == len(new)


def test_every_row_of_the_table_decides_some_url():
    hidden = stale(project_patterns(), EXPECTED)

    assert not hidden, "rows (or choices of a row) that no URL takes, or that an earlier row hides:\n  " + "\n  ".join(
        hidden
    )


def test_the_summary_at_the_top_is_the_table_s():
    expected = summary(project_patterns(), EXPECTED)
    shown = "\n".join(line.removeprefix("    ") for line in __doc__.split("checked by a test):\n\n")[1].splitlines())
    assert shown.strip() == expected.strip(), f"update the summary in the docstring:\n\n{expected}"


@pytest.fixture
def world(chain, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return build_world(chain)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_reaches_what_the_table_says_and_nothing_more(client, world, persona):
    wrong = mismatches(client, world, persona, project_patterns(), EXPECTED)

    assert not wrong, f"{persona} is answered otherwise than EXPECTED_TABLE says:\n  " + "\n  ".join(wrong)


def _patterns(*keys: str) -> list[Pattern]:
    return [p for p in project_patterns() if p.key in keys]


def test_the_matrix_notices_a_role_given_a_right_design_does_not_give_it(client, world, monkeypatch):
    # Given cashiers who may adjust points by hand (DESIGN §5: managers and HQ only)
    monkeypatch.setitem(ROLE_ACTIONS, Role.CASHIER, ROLE_ACTIONS[Role.CASHIER] | {Action.ADJUST_POINTS})

    wrong = mismatches(client, world, "cashier", _patterns("tablet:adjust", "loyalty-api:points-adjustment"), EXPECTED)

    assert [line.split(" ")[0] for line in wrong] == ["tablet:adjust", "loyalty-api:points-adjustment"]


def test_the_matrix_notices_another_store_s_sale_shown_at_the_till(client, world, monkeypatch):
    # Given a receipt page that forgets to check the sale's store
    monkeypatch.setattr("loyalty.views._sale_of_this_store", lambda request, sale_id: sale_for_receipt(sale_id))

    wrong = mismatches(client, world, "cashier", _patterns("tablet:receipt"), EXPECTED)

    assert len(wrong) == 1 and wrong[0].endswith("says ok/refused, got ok"), wrong
