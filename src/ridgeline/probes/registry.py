"""Probe registry: one name per component class, its config key under ``probe.`` and the record
key its results are stored under (``@register_probe("barrier")`` on :class:`BarrierProbe`).

A component runs on the parent phase (``compute(ctx)``) or on each pair of children
(``compute(ctx, i, j)``); the registry says which. A user's own component is built from its
``_target_`` as a user's model is: its module registers it on import; one that does not
register is a pair component with its own ``key``, as before the registry.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

C = TypeVar("C", bound=type[Any])


@dataclass(frozen=True)
class ProbeEntry:
    """A registered component class: its name (config key = record key) and where it runs."""

    name: str
    cls: type
    on_parent: bool


_PROBES: dict[str, ProbeEntry] = {}


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_probe(name: str, *, on_parent: bool = False) -> Callable[[C], C]:
    """Register a component class under ``name`` and make ``name`` its record ``key``;
    ``on_parent``: it probes the parent (``compute(ctx)``) rather than pairs of children.
    A name is registered once: another class under it is a ValueError."""

    def decorator(cls: C) -> C:
        known = _PROBES.get(name)
        if known is not None and _qualified(known.cls) != _qualified(cls):
            raise ValueError(
                f"probe component {name!r} is already registered by {_qualified(known.cls)}; "
                f"register {_qualified(cls)} under another name"
            )
        cls.key = name
        _PROBES[name] = ProbeEntry(name, cls, on_parent)
        return cls

    return decorator


def list_probes() -> list[str]:
    """Sorted names of all registered probe components."""
    return sorted(_PROBES)


def probe_entry(component: Any) -> ProbeEntry | None:
    """The registry's entry of ``component``'s class, or of the nearest registered class it
    derives from; None for a component whose class never registered."""
    by_class = {entry.cls: entry for entry in _PROBES.values()}
    for cls in type(component).__mro__:
        if cls in by_class:
            return by_class[cls]
    return None


def runs_on_parent(component: Any) -> bool:
    """Whether ``component`` probes the parent phase (else each pair of children)."""
    entry = probe_entry(component)
    return entry is not None and entry.on_parent
