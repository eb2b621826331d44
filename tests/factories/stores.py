import factory
from django.contrib.auth import get_user_model

from stores.models import Region, Store
from stores.services import staff_create


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"R{n:02d}")
    name = factory.Sequence(lambda n: f"区域{n}")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"测试门店{n}")
    region = factory.SubFactory(RegionFactory)


class StaffFactory(factory.Factory):
    """A staff login created through stores.services.staff_create, so its role group is real."""

    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"staff{n}")
    password = "correct-horse-battery"
    role = "cashier"
    stores = ()
    first_name = ""

    @classmethod
    def _create(cls, model_class, **kwargs):
        return staff_create(actor=None, **kwargs)


def integration_token(user, *, name: str = "线上商城", days: int = 90) -> str:
    """A token for `user` made as HQ makes one (stores.services) → the token an integration sends."""
    from stores.services import integration_token_create

    _token, raw = integration_token_create(actor=None, user=user, name=name, days=days)
    return raw
