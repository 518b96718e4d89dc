"""The SLURM parameters hydra-submitit-launcher generates from conf/hydra/launcher/slurm.yaml.

submitit's executor is replaced by a recorder (no cluster here); everything else is the
released plugin's own code path.
"""

import pytest
import submitit
from hydra.utils import instantiate

from helpers.compose import compose_train


class RecordingExecutor:
    instances: list["RecordingExecutor"] = []

    def __init__(self, cluster, **init_params):
        self.cluster, self.init_params, self.params = cluster, init_params, {}
        RecordingExecutor.instances.append(self)

    def update_parameters(self, **params):
        self.params.update(params)

    def map_array(self, fn, *args):
        self.jobs = list(zip(*args, strict=True))
        return []


@pytest.fixture
def launcher(tmp_path, monkeypatch):
    monkeypatch.setattr(submitit, "AutoExecutor", RecordingExecutor)
    RecordingExecutor.instances.clear()
    overrides = [
        "hydra/launcher=slurm",
        "trainer=ddp",
        "trainer.devices=4",
        "trainer.num_nodes=2",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.account=lmc-lab",
        f"paths.root_dir={tmp_path}",
        f"hydra.sweep.dir={tmp_path}/sweep",
    ]
    cfg = compose_train(*overrides, job=True)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.config = cfg
    return launcher


def test_two_nodes_of_four_gpus_get_one_task_per_gpu(launcher, tmp_path):
    launcher.launch([["spawn.at=0", "seed=0"], ["spawn.at=100", "seed=0"]], initial_job_idx=0)
    (executor,) = RecordingExecutor.instances
    assert executor.cluster == "slurm"
    assert executor.init_params == {
        "folder": f"{tmp_path}/sweep/.submitit/%j",
        "slurm_max_num_timeout": 20,
    }
    p = executor.params
    assert (p["nodes"], p["tasks_per_node"], p["gpus_per_node"]) == (2, 4, 4)
    assert p["slurm_partition"] == "gpu"
    assert p["slurm_account"] == "lmc-lab"
    assert p["slurm_array_parallelism"] == 64
    assert p["timeout_min"] == 240
    assert p["slurm_signal_delay_s"] == 120
    assert p["cpus_per_task"] == 8 and p["mem_gb"] == 64
    assert [job[0] for job in executor.jobs] == [
        ["spawn.at=0", "seed=0"],
        ["spawn.at=100", "seed=0"],
    ]


def test_launcher_uses_only_fields_the_released_plugin_knows(launcher):
    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf

    known = set(SlurmQueueConf.__dataclass_fields__)
    assert set(launcher.params) <= known
