"""The typed view of ``records.jsonl``: the one way every reader of probe records reads them.

A stored line (:mod:`ridgeline.store.record_store`) becomes a :class:`ProbeRecord` whose
results are the landscape core's typed records (``ridgeline.landscape.results``). The report,
its tables and figures, the end-of-run summary, the reproduction's claims, the W&B logging and
``load_run`` all read these, never the dict.

Record keys are the probe components' keys (config key = class name stem = record key):
``barrier``, ``layerwise``, ``curvature``, ``geometry``, ``parent`` and ``aligned``. Inside them
(docs/design.md §4, §5): ``barrier.<split>.ridge`` (the ridge on the path),
``curvature.<split>.gauss_newton`` (the Gauss-Newton split),
``curvature.<split>.top_eigenvalue_mid`` and ``geometry.plane`` (the loss plane).

Older records still load:
- ``taylor``: the ``curvature`` component's key before it was renamed (also under ``aligned``);
- ``nonfinite``/``nonfinite_values``: the flags' names before ``non_finite`` (handled by
  :meth:`ridgeline.landscape.results.Record.from_dict`);
- fields added later (``eval_path``, ``n_examples``, ``kind``) take their defaults;
- results added later (the ridge, the Gauss-Newton split, the plane) read as {} / None;
- a value outside the core's records that was not finite is stored as ``null`` and its key
  path listed in the record's top-level ``non_finite`` (:meth:`RecordStore.append`); it is
  read back as nan.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from ridgeline.landscape.alignment import AlignmentRecord
from ridgeline.landscape.record_codec import Record, RecordFieldError, key_path
from ridgeline.landscape.results import (
    BarrierRecord,
    EigenRecord,
    GaussNewtonRecord,
    GeometryRecord,
    LayerwiseRecord,
    ProfileRecord,
    RidgeRecord,
    SliceRecord,
    TaylorRecord,
)
from ridgeline.records.lines import typed_lines
from ridgeline.store.record_store import RecordStore

CURVATURE = "curvature"
OLD_CURVATURE = "taylor"  # the curvature component's record key before the rename
EIGEN = "top_eigenvalue_mid"  # stored inside the curvature record of a split
GAUSS_NEWTON = "gauss_newton"  # stored inside the curvature record of a split
RIDGE = "ridge"  # stored inside the barrier record of a split
PLANE = "plane"  # stored inside the geometry record


R = TypeVar("R", bound=Record)


def _typed(cls: type[R], data: Any, at: str) -> R:
    """``cls.from_dict(data)``, whose field errors name the key path ``at`` it is stored under."""
    try:
        return cls.from_dict(data)
    except RecordFieldError as exc:
        raise exc.under(at) from None


def _curvature_of(data: dict[str, Any]) -> dict[str, Any]:
    """The per-split curvature dicts, under the current key or the old one."""
    return data.get(CURVATURE) or data.get(OLD_CURVATURE) or {}


def _plain(value: Any, path: str, flags: set[str]) -> float | None:
    """A float stored outside the core's records: None when absent, nan when flagged."""
    if value is None:
        return math.nan if path in flags else None
    return float(value)


@dataclass(frozen=True, kw_only=True)
class Plane:
    """The loss plane of one pair at one probe point (``geometry.plane``): the core's slice (its
    grid and its three points' values), the split it was evaluated on and the seconds it took."""

    split: str
    slice: SliceRecord
    seconds: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], flags: set[str]) -> Plane:
        """The plane stored under ``geometry.plane`` of a record whose ``non_finite`` are
        ``flags`` (the slice's own flags are inside ``data``); a grid that is not len(v) rows
        of len(u) values, or another damaged field, raises :class:`RecordFieldError` naming
        ``geometry.plane.<field>``."""
        at = f"geometry.{PLANE}"
        plane = _typed(SliceRecord, data, at)
        # written before the slice held them, a non-finite point value was stored as null
        plane.point_loss = [math.nan if v is None else v for v in plane.point_loss]
        plane.point_error = [math.nan if v is None else v for v in plane.point_error]
        if not isinstance(data.get("split"), str):
            raise RecordFieldError(f"{at}.split", f"is {data.get('split')!r}, not a split name")
        return cls(
            split=data["split"],
            slice=plane,
            seconds=_plain(data.get("seconds"), f"geometry.{PLANE}.seconds", flags),
        )


@dataclass(frozen=True, kw_only=True)
class PairResults:
    """The core's records of one pair (i, j) of children, each keyed by split: ``ridge`` is the
    ridge on the barrier curve's path, ``top_eigenvalue`` and ``gauss_newton`` are parts of the
    curvature component's record (each only for the splits that have one)."""

    barrier: dict[str, BarrierRecord] = field(default_factory=dict)
    ridge: dict[str, RidgeRecord] = field(default_factory=dict)
    layerwise: dict[str, LayerwiseRecord] = field(default_factory=dict)
    curvature: dict[str, TaylorRecord] = field(default_factory=dict)
    top_eigenvalue: dict[str, EigenRecord] = field(default_factory=dict)
    gauss_newton: dict[str, GaussNewtonRecord] = field(default_factory=dict)

    @staticmethod
    def parse(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        """The fields of :class:`PairResults` from a stored record (or its ``aligned`` part,
        ``prefix`` "aligned": where messages say a damaged field is)."""
        barrier = data.get("barrier") or {}
        curvature = _curvature_of(data)
        cur = key_path(prefix, CURVATURE if CURVATURE in data else OLD_CURVATURE)

        def at(*keys: str) -> str:
            return ".".join([prefix, *keys] if prefix else keys)

        return {
            "barrier": {s: _typed(BarrierRecord, r, at("barrier", s)) for s, r in barrier.items()},
            "ridge": {
                s: _typed(RidgeRecord, r[RIDGE], at("barrier", s, RIDGE))
                for s, r in barrier.items()
                if r.get(RIDGE)
            },
            "layerwise": {
                s: _typed(LayerwiseRecord, r, at("layerwise", s))
                for s, r in (data.get("layerwise") or {}).items()
            },
            "curvature": {s: _typed(TaylorRecord, r, f"{cur}.{s}") for s, r in curvature.items()},
            "top_eigenvalue": {
                s: _typed(EigenRecord, r[EIGEN], f"{cur}.{s}.{EIGEN}")
                for s, r in curvature.items()
                if r.get(EIGEN)
            },
            "gauss_newton": {
                s: _typed(GaussNewtonRecord, r[GAUSS_NEWTON], f"{cur}.{s}.{GAUSS_NEWTON}")
                for s, r in curvature.items()
                if r.get(GAUSS_NEWTON)
            },
        }


@dataclass(frozen=True, kw_only=True)
class AlignedResults(PairResults):
    """The aligned components again on (θ_A, P(θ_B)), and how θ_B was aligned."""

    alignment: AlignmentRecord | None = None


@dataclass(frozen=True, kw_only=True)
class ProbeRecord(PairResults):
    """One line of ``records.jsonl``: which probe point, and its results as typed records.

    ``barrier``, ``layerwise`` and ``curvature`` map a split ("train", "test") to the core's
    record; ``geometry`` is the spawn-point geometry (None for independent children, whose
    only geometry is ``dist_ab`` = ‖θ_A − θ_B‖); ``plane`` is the loss plane (None where none was
    recorded); ``profiles`` maps a split to the loss profiles
    θ_s → child ("a", "b"); ``parent_profiles`` a split to the parent's profile θ_0 → θ_t and
    ``parent_distance`` is ‖θ_t − θ_0‖. ``job`` and ``setting`` name the job of a sweep and its
    varying config values (set by :mod:`ridgeline.report.collect`; "." and "" for one run).
    ``probe_seconds`` is the wall time of the probe point divided by its number of records.
    ``raw`` is the line as stored (environment, probe settings, anything not typed here).
    """

    phase: str
    kind: str
    probe: str
    step: int
    spawn_step: int | None = None
    pair: tuple[int, int] | None = None
    bn_policy: str | None = None
    geometry: GeometryRecord | None = None
    dist_ab: float | None = None
    plane: Plane | None = None
    profiles: dict[str, dict[str, ProfileRecord]] = field(default_factory=dict)
    parent_profiles: dict[str, ProfileRecord] = field(default_factory=dict)
    parent_distance: float | None = None
    aligned: AlignedResults | None = None
    probe_seconds: float | None = None
    job: str = "."
    setting: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeRecord:
        """The typed view of one stored record (the inverse of the probes' ``to_dict``)."""
        flags = set(data.get("non_finite") or data.get("nonfinite") or [])
        geometry = data.get("geometry") or {}
        parent = data.get("parent") or {}
        aligned = data.get("aligned")
        pair = data.get("pair")
        # spawned children's geometry is the core's record; independent ones have only dist_ab
        spawn = _typed(GeometryRecord, geometry, "geometry") if "angle_deg" in geometry else None
        return cls(
            phase=data["phase"],
            kind=data.get("kind", data["phase"]),
            probe=data["probe"],
            step=int(data["step"]),
            spawn_step=data.get("spawn_step"),
            pair=(int(pair[0]), int(pair[1])) if pair is not None else None,
            bn_policy=data.get("bn_policy"),
            **PairResults.parse(data),
            geometry=spawn,
            dist_ab=(
                spawn.dist_ab
                if spawn is not None
                else _plain(geometry.get("dist_ab"), "geometry.dist_ab", flags)
            ),
            plane=Plane.from_dict(geometry[PLANE], flags) if geometry.get(PLANE) else None,
            profiles={
                s: {
                    c: _typed(ProfileRecord, p, f"geometry.profiles.{s}.{c}")
                    for c, p in children.items()
                }
                for s, children in (geometry.get("profiles") or {}).items()
            },
            parent_profiles={
                s: _typed(ProfileRecord, p, f"parent.profiles.{s}")
                for s, p in (parent.get("profiles") or {}).items()
            },
            parent_distance=_plain(
                parent.get("distance_from_init"), "parent.distance_from_init", flags
            ),
            aligned=(
                AlignedResults(
                    **PairResults.parse(aligned, "aligned"),
                    alignment=_typed(AlignmentRecord, aligned["alignment"], "aligned.alignment")
                    if aligned.get("alignment")
                    else None,
                )
                if aligned
                else None
            ),
            probe_seconds=_plain(data.get("probe_seconds"), "probe_seconds", flags),
            job=data.get("_job", "."),
            setting=data.get("_setting", ""),
            raw=data,
        )

    @property
    def taylor(self) -> dict[str, TaylorRecord]:
        """The ``curvature`` records under their name before the rename (warns: users' code)."""
        warnings.warn(
            "ProbeRecord.taylor is now ProbeRecord.curvature (the component's config key)",
            FutureWarning,
            stacklevel=2,
        )
        return self.curvature

    def in_job(self, job: str, setting: str) -> ProbeRecord:
        """This record as one of job ``job`` of a sweep, with its varying config ``setting``."""
        return replace(self, job=job, setting=setting)


def _not_a_probe_record(exc: Exception) -> str | None:
    """What is wrong with a stored line that ``ProbeRecord.from_dict`` could not read, beyond a
    damaged field (None: the exception is not the line's)."""
    if isinstance(exc, KeyError):
        return f"has no {exc.args[0]!r}: it was not written by ridgeline-train"
    if isinstance(exc, (TypeError, ValueError, AttributeError)):
        return f"is not a probe record ({exc})"
    return None


def typed_records(
    lines: Iterable[dict[str, Any]], source: str | Path, numbers: Iterable[int] | None = None
) -> list[ProbeRecord]:
    """Stored records as :class:`ProbeRecord`; a record missing what every record has (phase,
    probe, step) or whose results are not the core's records (a field missing, not a number, a
    curve or grid of the wrong length) raises a :class:`~ridgeline.errors.RidgelineError`
    naming ``source``, the line (``numbers``: each record's line in the file; else the record's
    number) and the field."""
    lines = list(lines)
    where = "line" if numbers is not None else "record"
    return typed_lines(
        ProbeRecord.from_dict,
        zip(numbers or range(1, len(lines) + 1), lines, strict=True),
        source,
        lambda number, _: f"restore the file or delete {where} {number}",
        where=where,
        problem=_not_a_probe_record,
    )


def read_records(path: str | Path) -> list[ProbeRecord]:
    """Every record of a ``records.jsonl``, typed, in file order ([] when there is none)."""
    numbered = RecordStore(path).read_numbered()
    return typed_records([r for _, r in numbered], path, [n for n, _ in numbered])
