import json
import math

from ridgeline.landscape import BarrierRecord, LayerwiseRecord
from ridgeline.landscape.results import BarrierValues, LayerBarrier


def test_json_roundtrip_with_non_finite():
    rec = BarrierRecord(
        alphas=[0.0, 0.5, 1.0],
        loss=[1.0, float("nan"), float("inf")],
        error=[0.1, 0.2, 0.3],
        loss_barrier=BarrierValues(float("nan"), 1.0, -float("inf")),
        error_barrier=BarrierValues(0.1, 0.2, 0.3),
    )
    d = rec.to_dict()
    text = json.dumps(d, allow_nan=False)
    d2 = json.loads(text)
    assert d2["loss"] == [1.0, None, None]
    assert set(d2["non_finite"]) == {
        "loss[1]",
        "loss[2]",
        "loss_barrier.midpoint",
        "loss_barrier.endpoint_mean",
    }
    back = BarrierRecord.from_dict(d2)
    assert math.isnan(back.loss[1]) and back.loss[2] == float("inf")
    assert back.loss_barrier.endpoint_mean == -float("inf")
    assert back.error_barrier == rec.error_barrier
    assert back.alphas == rec.alphas


def test_records_written_before_the_non_finite_rename_still_restore_nan_and_inf():
    rec = BarrierRecord(
        alphas=[0.0, 0.5, 1.0],
        loss=[1.0, float("nan"), -float("inf")],
        error=[0.1, 0.2, 0.3],
        loss_barrier=BarrierValues(float("inf"), 1.0, 2.0),
        error_barrier=BarrierValues(0.1, 0.2, 0.3),
    )
    d = json.loads(json.dumps(rec.to_dict(), allow_nan=False))
    d["nonfinite"], d["nonfinite_values"] = d.pop("non_finite"), d.pop("non_finite_values")
    back = BarrierRecord.from_dict(d)
    assert math.isnan(back.loss[1]) and back.loss[2] == -float("inf")
    assert back.loss_barrier.midpoint == float("inf")


def test_nested_list_roundtrip():
    entry = LayerBarrier(
        "1",
        ["1"],
        "into_a",
        "layer",
        [0.0, 0.5, 1.0],
        [1.0, 2.0, 1.0],
        [0.0, 0.5, 0.0],
        1.0,
        1.0,
        0.5,
        0.5,
    )
    rec = LayerwiseRecord(1.0, 1.0, 0.0, 0.0, entries=[entry])
    back = LayerwiseRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert back == rec
