"""A multirun's whole-sweep check (the ``CheckSweep`` callback of conf/hydra/default.yaml)
in-process, as Hydra's multirun calls it before its sweeper and launcher start anything."""

import pytest
from hydra._internal.callbacks import Callbacks
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

from helpers.compose import ridgeline_conf


def sweep_refused(capsys: pytest.CaptureFixture, *overrides: str, launcher: str = "") -> str:
    """``ridgeline-train -m <overrides>`` refused by its sweep check: the config composed for
    the multirun (its launcher's ``_target_`` ending in ``launcher``), the callbacks of its
    ``hydra.callbacks`` called; asserts exit 2, one ``ridgeline: error:`` line and no
    traceback, and returns that line."""
    with ridgeline_conf():
        hydra = GlobalHydra.instance().hydra
        assert hydra is not None
        cfg = hydra.compose_config("train", list(overrides), run_mode=RunMode.MULTIRUN)
        assert cfg.hydra.launcher._target_.endswith(launcher)
        with pytest.raises(SystemExit) as info:
            Callbacks(cfg).on_multirun_start(config=cfg, config_name="train")
    assert info.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("ridgeline:")]
    assert len(lines) == 1 and lines[0].startswith("ridgeline: error: "), err[-2000:]
    assert "Traceback" not in err
    return lines[0]
