"""Synthetic probe records in the format of ridgeline-train (records.jsonl, built from the
landscape core's record types); run and sweep dirs."""

import json
import math
from pathlib import Path

import yaml

from ridgeline.landscape.results import (
    BarrierRecord,
    BarrierValues,
    GeometryRecord,
    LayerBarrier,
    LayerCurvature,
    LayerwiseRecord,
    ProfileRecord,
    TaylorRecord,
)

ALPHAS = [i / 8 for i in range(9)]
PROFILE_ALPHAS = [i / 4 for i in range(5)]
LAYERS = ("fc1", "fc2", "fc3")


def barrier_values(alphas, curve) -> BarrierValues:
    """The three barrier variants of docs/design.md §2, by hand from a curve over α."""
    ends = 0.5 * (curve[0] + curve[-1])
    chord = max(
        v - ((1 - a) * curve[0] + a * curve[-1]) for a, v in zip(alphas, curve, strict=True)
    )
    return BarrierValues(
        midpoint=curve[alphas.index(0.5)] - ends, chord=chord, endpoint_mean=max(curve) - ends
    )


def _barrier(height: float, base: float) -> dict:
    # an asymmetric hump on a slope: midpoint, chord and endpoint-mean all differ when height > 0
    loss = [base + 0.3 * a + height * (4 * a * (1 - a) + 4 * a * a * (1 - a)) for a in ALPHAS]
    error = [0.1 + 0.02 * a + height * 0.1 * 4 * a * (1 - a) for a in ALPHAS]
    return BarrierRecord(
        alphas=ALPHAS,
        loss=loss,
        error=error,
        loss_barrier=barrier_values(ALPHAS, loss),
        error_barrier=barrier_values(ALPHAS, error),
        bn_policy="reset",
        n_examples=100,
    ).to_dict()


def _profile(start: float, end: float, bump: float = 0.0) -> dict:
    loss = [start + (end - start) * a + bump * 4 * a * (1 - a) for a in PROFILE_ALPHAS]
    return ProfileRecord(
        alphas=PROFILE_ALPHAS,
        loss=loss,
        error=[0.2] * 5,
        bump=bump,
        bump_alpha=0.5,
        monotone=bump == 0,
        tolerance=0.0,
        distance=1.0,
    ).to_dict()


def _layerwise(height: float) -> dict:
    entries = []
    for i, name in enumerate(LAYERS):
        for direction in ("into_a", "into_b"):
            value = height * (i + 1) / 6 + (0.001 if direction == "into_b" else 0.0)
            entries.append(
                LayerBarrier(
                    name=name,
                    groups=[name],
                    direction=direction,
                    kind="layer",
                    alphas=[0.0, 0.5, 1.0],
                    loss=[0.5, 0.5 + value, 0.5],
                    error=[0.1, 0.1 + value / 10, 0.1],
                    loss_mid_own=value,
                    loss_mid_orig=value + 0.01,
                    error_mid_own=value / 10,
                    error_mid_orig=value / 10 + 0.001,
                )
            )
    entries.append(
        LayerBarrier(
            name="fc1..fc3",
            groups=list(LAYERS),
            direction="into_a",
            kind="cumulative_shallow_to_deep",
            alphas=[0.0, 0.5, 1.0],
            loss=[0.5, 0.5 + height, 0.5],
            error=[0.1, 0.1, 0.1],
            loss_mid_own=height,
            loss_mid_orig=height,
            error_mid_own=0.0,
            error_mid_orig=0.0,
        )
    )
    return LayerwiseRecord(
        loss_a=0.5, loss_b=0.5, error_a=0.1, error_b=0.1, entries=entries
    ).to_dict()


def _curvature(height: float, seed: int, delta_norm: float) -> dict:
    predicted = 1.1 * height + 0.01 * seed if delta_norm else 0.0
    return TaylorRecord(
        loss_mid=0.5 + height,
        grad_dot_delta_mid=0.0,
        dHd_mid=-8 * predicted,
        predicted_barrier=predicted,
        delta_norm=delta_norm,
        curvature_mid=-8 * predicted / delta_norm**2 if delta_norm else 0.0,
        layers=[
            LayerCurvature(
                name=n,
                dHd_single_mid=-8 * 1.2 * height * (i + 1) / 6,
                predicted_barrier=1.2 * height * (i + 1) / 6,
                dHd_full_mid=0.0,
                delta_norm=delta_norm / 3,
            )
            for i, n in enumerate(LAYERS)
        ],
    ).to_dict()


def pair_record(phase, kind, step, spawn_step, height, seed=0, pair=(0, 1), key="curvature"):
    """One pair record as ridgeline-train writes it (``key="taylor"``: the old format)."""
    splits = {}
    for split, shift in (("test", 0.0), ("train", -0.1)):
        splits[split] = _barrier(height, 0.5 + shift)
    moved = step != spawn_step  # at the spawn step the children coincide: Δ = 0
    dist_ab = (1.0 + height) if moved else 0.0
    if kind == "spawn":
        geometry = GeometryRecord(
            angle_deg=(20.0 + 60.0 * height + seed) if moved else math.nan,
            dist_ab=dist_ab,
            dist_as=0.7 if moved else 0.0,
            dist_bs=0.8 if moved else 0.0,
        ).to_dict()
        geometry["profiles"] = {
            split: {"a": _profile(2.0, 0.5, height / 2), "b": _profile(2.0, 0.6, height / 3)}
            for split in ("test", "train")
        }
    else:  # independent children: no spawn point, only their distance
        geometry = {"dist_ab": dist_ab}
    return {
        "phase": phase,
        "kind": kind,
        "probe": "pair",
        "step": step,
        "spawn_step": spawn_step,
        "pair": list(pair),
        "bn_policy": "reset",
        "alphas": ALPHAS,
        "barrier": splits,
        "layerwise": {split: _layerwise(height) for split in ("test", "train")},
        key: {split: _curvature(height, seed, dist_ab) for split in ("test", "train")},
        "geometry": geometry,
    }


def parent_record(step):
    return {
        "phase": "parent",
        "kind": "parent",
        "probe": "parent",
        "step": step,
        "spawn_step": None,
        "pair": None,
        "parent": {
            "distance_from_init": 0.1 * step,
            "profiles": {"test": _profile(2.3, 2.3 - 0.01 * step)},
        },
    }


def run_records(spawn_at=(0, 10), total=20, seed=0, independent=True):
    recs = [parent_record(s) for s in range(0, total + 1, 10)]
    for k in spawn_at:
        phase = f"spawn_k={k:07d}"
        for step in range(k, total + 1, 10):
            # barrier grows with training time, shrinks with spawn step (instability)
            height = 0.0 if step == k else (0.6 / (1 + k)) * (step - k) / total + 0.02 * seed
            recs.append(pair_record(phase, "spawn", step, k, height, seed))
    if independent:
        for step in range(0, total + 1, 10):
            recs.append(
                pair_record(
                    "independent", "independent", step, None, 0.0 if step == 0 else 0.9, seed
                )
            )
    return recs


def write_run(run_dir: Path, records, config: dict, overrides=()) -> Path:
    (run_dir / "landscape").mkdir(parents=True, exist_ok=True)
    with (run_dir / "landscape" / "records.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (run_dir / ".hydra").mkdir(exist_ok=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    return run_dir


def base_config(run_dir: Path, seed=0, spawn_at=(0, 10)):
    return {
        "seed": seed,
        "seeds": {"init": seed, "data": seed},
        "model": {"name": "mlp"},
        "spawn": {"at": spawn_at if isinstance(spawn_at, int) else list(spawn_at), "children": 2},
        "paths": {"output_dir": str(run_dir)},
    }


def make_run(run_dir: Path) -> Path:
    return write_run(run_dir, run_records(), base_config(run_dir))


def make_sweep(sweep_dir: Path) -> Path:
    """2 × 2 sweep: spawn.at ∈ {0, 10} × seed ∈ {0, 1}, jobs 0..3 (Hydra multirun layout)."""
    job = 0
    for k in (0, 10):
        for seed in (0, 1):
            d = sweep_dir / str(job)
            write_run(
                d,
                run_records(spawn_at=(k,), seed=seed, independent=(k == 0)),
                base_config(d, seed=seed, spawn_at=k),
                [f"spawn.at={k}", f"seed={seed}"],
            )
            job += 1
    # a shared parent store inside the sweep dir has records but no config.yaml: not a job
    store = sweep_dir / "parents" / "abc123" / "landscape"
    store.mkdir(parents=True)
    (store / "records.jsonl").write_text(json.dumps(parent_record(0)) + "\n")
    return sweep_dir


def close(a, b):
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
