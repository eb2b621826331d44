from tests.factories.members import MemberFactory, TagFactory
from tests.factories.stores import RegionFactory, StaffFactory, StoreFactory

__all__ = ["MemberFactory", "RegionFactory", "StaffFactory", "StoreFactory", "TagFactory"]
