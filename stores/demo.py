"""The demo chain. Each app adds its part with `register_demo_step` from its AppConfig.ready().

Steps run in registration order (INSTALLED_APPS order), get a shared seeded random generator and
must be idempotent: running `demo` twice leaves the same chain.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction

from stores.models import Region, Store
from stores.roles import Role
from stores.services import staff_create, staff_set_role, staff_set_stores


@dataclass
class DemoOptions:
    members: int = 2000
    seed: int = 20261122
    password: str | None = None


@dataclass
class DemoLogin:
    role: str
    username: str
    password: str
    where: str


@dataclass
class DemoContext:
    options: DemoOptions
    rng: random.Random
    progress: TextIO | None
    stores: dict[str, Store] = field(default_factory=dict)
    staff: dict[str, object] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    logins: list[DemoLogin] = field(default_factory=list)


DemoStep = Callable[[DemoContext], None]
_STEPS: list[tuple[str, DemoStep]] = []


def register_demo_step(name: str, step: DemoStep) -> None:
    if name not in [n for n, _s in _STEPS]:
        _STEPS.append((name, step))


REGIONS = [("EAST", "华东区"), ("NORTH", "华北区"), ("SOUTH", "华南区")]
STORES = [
    ("SH001", "上海徐汇店", "EAST", "上海市徐汇区漕溪北路88号", "021-64281234"),
    ("SH002", "上海静安店", "EAST", "上海市静安区南京西路1266号", "021-62881999"),
    ("HZ001", "杭州西湖店", "EAST", "杭州市西湖区文三路259号", "0571-87651234"),
    ("BJ001", "北京朝阳店", "NORTH", "北京市朝阳区建国路93号", "010-85991234"),
    ("GZ001", "广州天河店", "SOUTH", "广州市天河区天河路208号", "020-38781234"),
    ("SZ001", "深圳南山店", "SOUTH", "深圳市南山区海德三道1号", "0755-86001234"),
]
# username, role, store codes, first name, last name, default password
# (username, role, stores, given name, family name, password): Chinese names read family name first.
STAFF = [
    ("admin", Role.HQ_ADMIN, [], "管理员", "总部", "admin-demo-2026"),
    ("marketer", Role.HQ_MARKETER, [], "小林", "市场部", "marketer-demo-2026"),
    ("manager_sh", Role.STORE_MANAGER, ["SH001", "SH002"], "敏", "张", "manager-demo-2026"),
    ("cashier_sh", Role.CASHIER, ["SH001"], "丽", "王", "cashier-demo-2026"),
    ("manager_bj", Role.STORE_MANAGER, ["BJ001"], "强", "刘", "manager-demo-2026"),
    ("cashier_bj", Role.CASHIER, ["BJ001"], "静", "赵", "cashier-demo-2026"),
    ("cashier_gz", Role.CASHIER, ["GZ001", "SZ001"], "晓", "陈", "cashier-demo-2026"),
]


def _stores_and_staff(ctx: DemoContext) -> None:
    regions = {}
    for code, name in REGIONS:
        regions[code], _created = Region.objects.get_or_create(code=code, defaults={"name": name})
    for code, name, region, address, phone in STORES:
        ctx.stores[code], _created = Store.objects.get_or_create(
            code=code, defaults={"name": name, "region": regions[region], "address": address, "phone": phone}
        )
    User = get_user_model()
    for username, role, store_codes, first, last, default_password in STAFF:
        password = ctx.options.password or default_password
        stores = [ctx.stores[c] for c in store_codes]
        user = User.objects.filter(username=username).first()
        if user is None:
            user = staff_create(
                actor=None,
                username=username,
                password=password,
                role=role,
                stores=stores,
                first_name=first,
                last_name=last,
            )
        else:
            user.set_password(password)
            user.is_active = True
            user.save(update_fields=["password", "is_active"])
            staff_set_role(actor=None, user=user, role=role, reason="demo")
            staff_set_stores(actor=None, user=user, stores=stores, reason="demo")
        ctx.staff[username] = user
        where = ", ".join(store_codes) if store_codes else "HQ (back office)"
        ctx.logins.append(DemoLogin(role=role.value, username=username, password=password, where=where))
    ctx.summary.append(f"{len(REGIONS)} regions, {len(STORES)} stores, {len(STAFF)} staff logins")


register_demo_step("stores", _stores_and_staff)


def load_demo(options: DemoOptions, *, progress: TextIO | None = None) -> DemoContext:
    ctx = DemoContext(options=options, rng=random.Random(options.seed), progress=progress)
    for _name, step in _STEPS:
        with transaction.atomic():
            step(ctx)
    return ctx
