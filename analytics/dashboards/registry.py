from analytics.dashboards.base import Dashboard

REGISTRY: dict[str, Dashboard] = {}


def register(cls: type[Dashboard]) -> type[Dashboard]:
    if not cls.slug or cls.slug in REGISTRY:
        raise ValueError(f"dashboard slug {cls.slug!r} is empty or taken")
    REGISTRY[cls.slug] = cls()
    return cls


def dashboards() -> list[Dashboard]:
    return sorted(REGISTRY.values(), key=lambda d: (d.order, d.slug))
