import json
import math

from ridgeline.landscape import BarrierRecord, BarrierValues, LayerBarrier, LayerwiseRecord


def test_json_roundtrip_with_nonfinite():
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
    assert set(d2["nonfinite"]) == {
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
