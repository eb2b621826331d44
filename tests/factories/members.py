import factory

from members.models import Member, Tag
from members.services import member_register


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"标签{n}")


class MemberFactory(factory.Factory):
    """A member registered through members.services.member_register."""

    class Meta:
        model = Member

    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    name = factory.Iterator(["王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊"])

    @classmethod
    def _create(cls, model_class, **kwargs):
        return member_register(**kwargs)
