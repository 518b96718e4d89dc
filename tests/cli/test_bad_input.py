"""Bad configs: one clear message naming the key, the value and what is allowed, before compute.

A few cases go through the console script as a user types them (each costs one start-up of
Lightning, ~10 s); the rest call the checks in-process on configs composed from conf/.
"""

import os
import subprocess
import time

import pytest

from helpers.cli import TRAIN, run_train, run_train_batch
from helpers.compose import compose_groups as compose_cfg
from ridgeline.config.resolvers import register_resolvers
from ridgeline.config.rules import check_sizes
from ridgeline.config.settings import read_settings
from ridgeline.errors import ConfigError, RidgelineError
from ridgeline.job.plan import make_plan
from ridgeline.job.run_dir import check_run_dir
from ridgeline.job.validate import validate_config

register_resolvers()


def validate_run_dir(cfg, run_dir):
    check_run_dir(cfg, make_plan(cfg), run_dir)


def validate_sizes(cfg, n_train: int, n_test: int) -> None:
    check_sizes(read_settings(cfg), cfg.trainer, n_train, n_test)


def config_error(*overrides: str) -> str:
    with pytest.raises(RidgelineError) as info:
        validate_config(compose_cfg(*overrides))
    return str(info.value)


# --- through the command line ---------------------------------------------------------------
CLI_CASES = [
    # (overrides, exit code, fragments of the message)
    # Hydra's own config errors: one line and exit 2 as well, with a likely fix
    (
        ["model=mpl"],
        2,
        ["model=mpl is not valid: no option mpl in config group model", "model=mlp?"],
    ),
    (
        ["spawn.att=5"],
        2,
        ["spawn.att=5 is not valid: spawn.att is not a config key (did you mean spawn.at?)"],
    ),
    (["=5"], 2, ["'=5' is not a valid override: it has no key"]),
    (["trainer.max_steps=["], 2, ["'trainer.max_steps=[' is not a valid override"]),
    (["trainer.max_steps=abc"], 2, ["trainer.max_steps='abc'", "an integer >= 1"]),
    (["probe.alphas=[0.2,0.5,1.0]"], 2, ["probe.alphas=[0.2, 0.5, 1.0]", "both endpoints"]),
    (
        ["trainer.max_steps=100", "spawn.at=[0,5000]"],
        2,
        ["spawn.at=[0, 5000]", "< trainer.max_steps=100"],
    ),
    (["data.eval_train_size=100000"], 2, ["data.eval_train_size=100000", "train split (4000)"]),
    (["trainer=ddp_sim", "data.batch_size=127"], 2, ["data.batch_size=127", "multiple", "= 2"]),
    (["trainer=gpu"], 2, ["trainer.accelerator='gpu'", "no CUDA device", "trainer=cpu"]),
    (["probe.bn_policy=batch"], 2, ["probe.bn_policy='batch'", "has no BatchNorm"]),
    # an interpolation resolved inside the job (was a traceback)
    (["probe.alphas=${linspace:0,1,1}"], 2, ["probe.alphas='${linspace:0,1,1}'", "count >= 2"]),
]


def assert_refused(result, code: int, fragments: list[str], cwd) -> None:
    """Exit ``code``, every fragment in stderr, one ``ridgeline: error:`` line, no traceback,
    no training, nothing written (neither the run dir nor the parent store)."""
    assert result.returncode == code, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    if code == 2:
        lines = [line for line in result.stderr.splitlines() if line.startswith("ridgeline:")]
        assert len(lines) == 1 and lines[0].startswith("ridgeline: error: "), result.stderr
    assert "Trainer.fit" not in result.stdout + result.stderr  # no training started
    assert not (cwd / "run").exists(), list((cwd / "run").rglob("*"))
    assert not (cwd / "outputs").exists()


def ddp_start_case(case: str, busy_port: int) -> tuple[list[str], dict[str, str], str]:
    """A DDP job that cannot start: its overrides, environment and the expected line."""
    if case == "num_nodes":  # on one machine, no launcher for the second node
        overrides = ["logger=none", "trainer.num_nodes=2", "trainer.strategy=ddp"]
        return overrides, {}, "trainer.num_nodes=2 is not valid: 1 on one machine"
    env = {"MASTER_PORT": str(busy_port)}
    return (
        ["logger=none", "trainer=ddp_sim"],
        env,
        f"MASTER_PORT={busy_port} is not valid: a free port",
    )


DDP_START_CASES = ["num_nodes", "busy port"]


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """Every command-line case of this file that is refused before training, run by ONE process
    that calls the console script's entry point once per command line (helpers/train_batch.py):
    ``{case id: (result, cwd, expected line)}``. The DDP cases' busy port is held meanwhile."""
    import socket

    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases, keys, expected = [], [], []
        for overrides, _, _ in CLI_CASES:
            cases.append((tmp_path_factory.mktemp("cli"), overrides, {}))
            keys.append(" ".join(overrides))
            expected.append(None)
        for case in DDP_START_CASES:
            overrides, env, line = ddp_start_case(case, port)
            cases.append((tmp_path_factory.mktemp("ddp"), overrides, env))
            keys.append(case)
            expected.append(line)
        results = run_train_batch(cases, timeout=600)
    return {
        key: (result, cwd, line)
        for key, result, (cwd, _, _), line in zip(keys, results, cases, expected, strict=True)
    }


@pytest.mark.slow  # starts ridgeline-train
@pytest.mark.parametrize(
    "overrides,code,fragments", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES]
)
def test_bad_config_on_the_command_line(refused, overrides, code, fragments):
    result, cwd, _ = refused[" ".join(overrides)]
    assert_refused(result, code, fragments, cwd)
    assert result.seconds < 60  # a refusal costs no training


@pytest.mark.slow  # starts ridgeline-train
def test_the_console_script_process_refuses_as_its_entry_point_does(tmp_path, refused):
    """The batch above calls the console script's entry point in one interpreter; a real
    ``ridgeline-train`` process given one of its command lines exits and prints the same."""
    overrides, code, fragments = CLI_CASES[4]  # trainer.max_steps=abc
    start = time.monotonic()
    result = run_train(tmp_path, *overrides, timeout=180)
    assert time.monotonic() - start < 120  # start-up dominates; generous for loaded CI machines
    assert_refused(result, code, fragments, tmp_path)
    batched, _, _ = refused[" ".join(overrides)]
    assert result.returncode == batched.returncode
    ours = [line for line in result.stderr.splitlines() if line.startswith("ridgeline:")]
    assert ours == [line for line in batched.stderr.splitlines() if line.startswith("ridgeline:")]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # starts ridgeline-train
def test_more_nodes_than_started_fail_within_the_rendezvous_timeout(tmp_path):
    """Node 0 of 2 whose other node never comes: one line after the rendezvous timeout (5 s
    here, 300 s by default), not Lightning's 30-minute hang; nothing left behind."""
    env = {
        "NODE_RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "RIDGELINE_RENDEZVOUS_TIMEOUT": "5",
    }
    start = time.monotonic()
    result = run_train(
        tmp_path, "logger=none", "trainer.num_nodes=2", "trainer.strategy=ddp", env=env
    )
    assert result.returncode == 2, result.stderr[-2000:]
    line = _one_error_line(result)
    assert "the 2 processes of this job did not all join the process group" in line
    assert f"127.0.0.1:{env['MASTER_PORT']} within 5 s" in line and "trainer.num_nodes" in line
    assert time.monotonic() - start < 90
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # starts ridgeline-train
@pytest.mark.parametrize("case", DDP_START_CASES)
def test_a_ddp_job_that_cannot_start_is_one_line_before_any_process_starts(refused, case):
    result, cwd, expected = refused[case]
    assert result.returncode == 2, result.stderr[-2000:]
    assert expected in _one_error_line(result)
    assert list(cwd.iterdir()) == []


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("ridgeline:")]
    assert len(lines) == 1 and lines[0].startswith("ridgeline: error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.slow  # starts ridgeline-train
def test_a_rejected_config_leaves_nothing_in_the_default_run_dir(tmp_path):
    """outputs/runs/<date>/<time> is Hydra's: neither it nor its empty parents are left, and the
    parent store is never touched (the strategy is checked before anything is written)."""
    result = subprocess.run(
        [TRAIN, "print_config=false", "logger=none", "trainer.strategy=nosuch"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 2
    assert "trainer.strategy='nosuch' is not valid: one of auto" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # starts ridgeline-train
def test_a_rejected_multirun_leaves_nothing_in_the_default_sweep_dir(tmp_path):
    """``-m`` with the default sweep dir (outputs/multirun/<date>/<time>, resolved before Hydra
    sets its config: was 'HydraConfig was not set'); the first job's config is rejected: one
    line, exit 2, and neither the job dir nor the sweep's multirun.yaml is left."""
    result = subprocess.run(
        [TRAIN, "-m", "print_config=false", "logger=none", "trainer.max_steps=0", "seed=0,1"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    line = _one_error_line(result)
    # the sweep is checked whole before its first job (ridgeline.job.sweep_check)
    assert line.startswith("ridgeline: error: sweep job 0 (")
    assert "trainer.max_steps=0 is not valid: an integer >= 1; no job was started" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # starts ridgeline-train
def test_an_unwritable_root_is_one_line(tmp_path):
    (tmp_path / "outputs").write_text("a file where the outputs folder should be")
    result = subprocess.run(
        [TRAIN, "print_config=false"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    line = _one_error_line(result)
    assert f"cannot write {tmp_path / 'outputs' / 'runs'}" in line and "Not a directory" in line


# --- in-process: every config group ---------------------------------------------------------
IN_PROCESS_CASES = [
    (["trainer.max_steps=0"], "trainer.max_steps=0", "an integer >= 1"),
    (["trainer.max_steps=1.5"], "trainer.max_steps=1.5", "an integer >= 1"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0", "-1"),
    (["trainer.accelerator=tpu9"], "trainer.accelerator='tpu9'", "one of"),
    (["trainer.devices=0"], "trainer.devices=0", "an int >= 1"),
    (["trainer.precision=8"], "trainer.precision=8", "32-true"),
    (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps=0", ">= 1"),
    (["seed=null"], "seed=None", "an integer in [0, 4294967295]"),
    (["seed=-1"], "seed=-1", "an integer in [0, 4294967295]"),
    # seeds are unsigned 32-bit (Lightning's seed_everything refuses larger ones)
    (["seed=4294967296"], "seed=4294967296", "an integer in [0, 4294967295]"),
    (["seeds.aug=4294967296"], "seeds.aug=4294967296", "an integer in [0, 4294967295]"),
    (["data.eval_seed=99999999999"], "data.eval_seed=99999999999", "[0, 4294967295]"),
    (["data.split_seed=4294967296"], "data.split_seed=4294967296", "[0, 4294967295]"),
    # devices the machine lacks, and device lists where Lightning takes a count
    (["trainer.accelerator=mps"], "trainer.accelerator='mps'", "no MPS (Apple GPU) device"),
    (["trainer.devices=[0,1]"], "trainer.devices=[0, 1]", "e.g. trainer.devices=2"),
    (
        ["trainer.accelerator=auto", "trainer.devices=[0]"],
        "trainer.devices=[0]",
        "a list of device ids is for GPUs",
    ),
    (["trainer.accelerator=cuda"], "trainer.accelerator='cuda'", "no CUDA device is visible"),
    # fast_dev_run switches off checkpoints and loggers: rejected with the fix
    (["+trainer.fast_dev_run=true"], "trainer.fast_dev_run=True", "trainer.max_steps"),
    (["+trainer.fast_dev_run=3"], "trainer.fast_dev_run=3", "limit_val_batches"),
    # loggers: an importable Lightning logger, and its own arguments
    (
        ["+logger.x={_target_:nosuch.Thing}"],
        "logger.x._target_='nosuch.Thing'",
        "an importable Lightning logger class",
    ),
    (
        ["+logger.x={_target_:pytorch_lightning.loggers.NoSuchLogger}"],
        "logger.x._target_='pytorch_lightning.loggers.NoSuchLogger'",
        "has no attribute 'NoSuchLogger'",
    ),
    (["+logger.x={_target_:os.path.join}"], "logger.x._target_='os.path.join'", "a subclass of"),
    (["logger=csv", "+logger.csv.nme=x"], "logger.csv.nme='x'", "(did you mean name?)"),
    # a probe component's splits are the probe's; aligning spawned children needs a method
    (["+probe.barrier.splits=[val]"], "probe.barrier.splits=['val']", "probe.splits=['train',"),
    (
        ["probe.splits=[test]", "+probe.layerwise.splits=[train]"],
        "probe.layerwise.splits=['train']",
        "drawn from probe.splits=['test']",
    ),
    (["+probe.geometry.splits=[]"], "probe.geometry.splits=[]", "a non-empty list"),
    (["probe.align_spawned=true"], "probe.align_spawned=True", "set probe.align"),
    # the resolvers' arguments
    (
        ["probe.alphas=${linspace:0,1,1}"],
        "probe.alphas='${linspace:0,1,1}'",
        "an integer count >= 2; got 0.0, 1.0, 1",
    ),
    (["probe.alphas=${linspace:0,1,x}"], "probe.alphas='${linspace:0,1,x}'", "'x' is not"),
    (["probe.profile_alphas=${linspace:1,0,5}"], "profile_alphas='${linspace:1,0,5}'", "lo < hi"),
    (["probe.alphas=${linspace:0,1}"], "probe.alphas='${linspace:0,1}'", "got 2 argument(s)"),
    (["spawn.at=${logspace:10,1,5}"], "spawn.at='${logspace:10,1,5}'", "1 <= first <= last"),
    (["spawn.at=${logspace:1,100,2.5}"], "spawn.at='${logspace:1,100,2.5}'", "2.5 is not an"),
    (["spawn.at=${logspace:0,100,3}"], "spawn.at='${logspace:0,100,3}'", "got 0, 100, 3"),
    # sizes a data module knows without loading
    (["data.n_test=5000"], "data.n_test=5000", "an integer from 1 to 4999"),
    (["data.n_test=100000"], "data.n_test=100000", "mnist_mini has 5000 digits"),
    (["checkpoint_every_n_steps=0"], "checkpoint_every_n_steps=0", ">= 1"),
    (["print_config=maybe"], "print_config='maybe'", "true or false"),
    (["optim.lr=0"], "optim.lr=0", "a positive number"),
    (["optim.lr=-0.1"], "optim.lr=-0.1", "a positive number"),
    (["optim.lr=abc"], "optim.lr='abc'", "a positive number"),
    (["optim.momentum=1.5"], "optim.momentum=1.5", "[0.0, 1.0)"),
    (["optim.weight_decay=-1"], "optim.weight_decay=-1", "[0.0, inf)"),
    (["optim=adamw", "optim.betas=[0.9,1.2]"], "optim.betas=[0.9, 1.2]", "two numbers in [0, 1)"),
    (["+optim.foo=1"], "optim=", "unexpected keyword argument 'foo'"),
    (["optim.nesterov=true", "optim.momentum=0"], "optim=", "Nesterov"),
    (["schedule=step", "schedule.gamma=0"], "schedule.gamma=0", "(0.0, inf)"),
    (["schedule=step", "schedule.milestones=[-5]"], "schedule.milestones=[-5]", ">= 0"),
    (["schedule=cosine", "schedule.final_factor=2"], "schedule.final_factor=2", "[0.0, 1.0]"),
    (["schedule=warmup_cosine", "schedule.warmup_steps=-1"], "schedule.warmup_steps=-1", ">= 0"),
    (["data.batch_size=-1"], "data.batch_size=-1", "an integer >= 1"),
    (["data.batch_size=abc"], "data.batch_size='abc'", "an integer >= 1"),
    (["data.eval_train_size=0"], "data.eval_train_size=0", "or null"),
    (["data.eval_batch_size=0"], "data.eval_batch_size=0", ">= 1"),
    (["data.augment=maybe"], "data.augment='maybe'", "true or false"),
    (["data.name=cifar10"], "data.name='cifar10'", "mnist_mini, the dataset of this data config"),
    (["data.name=imagenet"], "data.name='imagenet'", "one of cifar10"),
    (["model.name=foo"], "model.name='foo'", "one of cnn"),
    (["model.width=-3"], "model.width=-3", "positive"),
    (["model.activation=foo"], "model.activation='foo'", "relu"),
    (["+model.foo=1"], "model.foo=1", "mlp takes only"),
    (["model=vgg11_bn"], "model.input_shape=[1, 28, 28]", "32, 32"),
    (["spawn.at=[0,1000]"], "spawn.at=[0, 1000]", "< trainer.max_steps=1000"),
    (["spawn.at=5000"], "spawn.at=5000", "past the end of training"),
    (["spawn.at=[-1]"], "spawn.at=[-1]", "integers >= 0"),
    (["spawn.at=[a]"], "spawn.at=['a']", "integers >= 0"),
    (["spawn.at=[]", "spawn.independent=false"], "spawn.at=[]", "spawn.independent=true"),
    (["spawn.children=0"], "spawn.children=0", ">= 1"),
    (["spawn.children=1"], "spawn.children=1", "at least 2 children when pair probes are on"),
    (["spawn.parent_checkpoints=[0,50]"], "spawn.at=[0, 10, 50, 200]", "[10, 200] are not"),
    (["spawn.parent_checkpoints=[0,10,50,200,2000]"], "spawn.parent_checkpoints", "<= trainer"),
    (["spawn.independent=maybe"], "spawn.independent='maybe'", "true or false"),
    (["probe.alphas=[0.0,0.5]"], "probe.alphas=[0.0, 0.5]", "both endpoints"),
    (["probe.alphas=[0.0,1.5,1.0]"], "probe.alphas=[0.0, 1.5, 1.0]", "[0, 1]"),
    (["probe.alphas=[0.0,0.6,0.4,1.0]"], "probe.alphas", "strictly increasing"),
    (["probe.alphas=[0.0,x,1.0]"], "probe.alphas", "'x' is not a number"),
    (["probe.alphas=0.5"], "probe.alphas=0.5", "a list of at least 2 numbers"),
    (["probe.profile_alphas=[0.1,1.0]"], "probe.profile_alphas=[0.1, 1.0]", "endpoints"),
    (["probe.every_n_steps=0"], "probe.every_n_steps=0", ">= 1, or null"),
    (["probe.every_n_steps=2.5"], "probe.every_n_steps=2.5", ">= 1, or null"),
    (["probe.every_n_epochs=-1"], "probe.every_n_epochs=-1", ">= 1, or null"),
    (["probe.bn_policy=mean"], "probe.bn_policy='mean'", "reset, interpolate, batch"),
    (["probe.bn_batches=0"], "probe.bn_batches=0", ">= 1"),
    (["probe.chunk_size=0"], "probe.chunk_size=0", ">= 1"),
    (["probe.eval_path=fast"], "probe.eval_path='fast'", "one of auto, vmap, loop"),
    (["probe.splits=[val]"], "probe.splits=['val']", "train, test"),
    (["probe.layerwise.curve=maybe"], "probe.layerwise.curve='maybe'", "true or false"),
    (
        ["model=cnn_small", "model.channels_last=maybe"],
        "model.channels_last='maybe'",
        "true or false",
    ),
    (["data=synthetic", "data.clusters_per_class=0"], "data.clusters_per_class >= 1", "got 0"),
    (["+probe.barrier.foo=1"], "probe.barrier=", "TypeError"),
    (["trainer.strategy=nosuch"], "trainer.strategy='nosuch'", "one of auto, ddp"),
    (["+trainer.max_step=10"], "trainer.max_step=10", "(did you mean trainer.max_steps?)"),
    (["trainer.precision=64"], "trainer.precision=64", "keeps the weights in float32"),
    (["trainer.precision=bf16-true"], "trainer.precision='bf16-true'", "one of 32-true"),
    (["+spawn.att=[5]"], "spawn.att=[5]", "did you mean spawn.at?"),
    (["+seeds.dat=3"], "seeds.dat=3", "did you mean seeds.data?"),
    (["+probe.every_n_step=5"], "probe.every_n_step=5", "did you mean probe.every_n_steps?"),
    (["+print_conf=false"], "print_conf=False", "did you mean print_config?"),
    (["threads=0"], "threads=0", "an integer >= 1, or null (torch's default)"),
    (["threads=100000000"], "threads=100000000", "CPU cores this process may use"),
    (["threads=9999999999999"], "threads=9999999999999", "or null for torch's default"),
]


@pytest.mark.parametrize(
    "overrides,head,allowed", IN_PROCESS_CASES, ids=[" ".join(c[0]) for c in IN_PROCESS_CASES]
)
def test_bad_config_in_process(overrides, head, allowed):
    message = config_error(*overrides)
    assert head in message, message
    assert allowed in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["debug=fast"],
        ["probe=none"],
        ["probe=barrier_only", "spawn.children=3"],
        ["model=vgg11_bn", "data=cifar10", "probe.bn_policy=batch"],
        ["model=resnet20_nf", "data=cifar10", "probe.bn_policy=interpolate"],
        ["spawn.parent_checkpoints=[0,10,50,100,200]"],
        [
            "~probe.barrier",
            "~probe.layerwise",
            "~probe.curvature",
            "~probe.geometry",
            "spawn.children=1",
        ],
        ["experiment=resnet20_cifar10_instability", "trainer=cpu"],
        ["threads=1", "trainer.precision=16-mixed"],
        ["+probe.barrier2={_target_:ridgeline.probes.BarrierProbe}"],
        ["seed=4294967295"],
        ["trainer.devices=2", "data.batch_size=128"],
        ["+trainer.fast_dev_run=false"],
        ["logger=csv"],
        ["+probe.barrier.splits=[test]"],
        ["probe.align=weight", "probe.align_spawned=true"],
        ["probe.alphas=${linspace:0,1,5}", "spawn.at=${logspace:1,100,3}"],
        ["threads=2"],
    ],
    ids=lambda o: " ".join(o) or "defaults",
)
def test_good_configs_pass(overrides):
    validate_config(compose_cfg(*overrides))


def test_bn_policy_batch_on_a_bn_model_passes_and_without_bn_fails():
    validate_config(compose_cfg("model=resnet20", "data=cifar10", "probe.bn_policy=batch"))
    message = config_error("model=resnet20_nf", "data=cifar10", "probe.bn_policy=batch")
    assert "probe.bn_policy='batch'" in message and "no BatchNorm" in message


def test_step_milestones_past_the_end_warn(capsys):
    validate_config(compose_cfg("schedule=step", "trainer.max_steps=600", "spawn.at=[0]"))
    err = capsys.readouterr().err
    assert "ridgeline: warning: schedule.milestones=[500, 750]" in err
    assert "[750]" in err and "never decays" in err


def test_validation_does_not_touch_the_global_rng():
    import torch

    torch.manual_seed(3)
    expected = torch.rand(3)
    cfg = compose_cfg()
    torch.manual_seed(3)
    validate_config(cfg)
    assert torch.equal(torch.rand(3), expected)


# --- in-process: checks against the split sizes ---------------------------------------------
@pytest.mark.parametrize(
    "overrides,head,allowed",
    [
        (["data.eval_train_size=5000"], "data.eval_train_size=5000", "train split (4000)"),
        (["data.eval_test_size=1001"], "data.eval_test_size=1001", "test split (1000)"),
        (["data.batch_size=4096", "spawn.at=[0]"], "data.batch_size=4096", "(4000)"),
        (["trainer.max_epochs=2"], "trainer.max_epochs=2", "at least 33"),
        (
            [
                "model=vgg11_bn",
                "data=cifar10",
                "data.eval_train_size=1000",
                "probe.bn_policy=batch",
                "probe.chunk_size=999",
            ],
            "probe.chunk_size=999",
            "chunk of 1 example",
        ),
    ],
)
def test_sizes(overrides, head, allowed):
    cfg = compose_cfg(*overrides)
    n_train, n_test = (50000, 10000) if cfg.data.name == "cifar10" else (4000, 1000)
    with pytest.raises(ConfigError) as info:
        validate_sizes(cfg, n_train, n_test)
    assert head in str(info.value) and allowed in str(info.value), str(info.value)


def test_sizes_that_fit_pass():
    validate_sizes(compose_cfg("data.eval_train_size=null"), 4000, 1000)
    validate_sizes(compose_cfg("data.eval_train_size=4000", "trainer.max_epochs=33"), 4000, 1000)


# --- in-process: the run dir ----------------------------------------------------------------
def test_run_dir_with_another_config_is_refused(tmp_path):
    from omegaconf import OmegaConf

    cfg = compose_cfg(f"paths.parent_dir={tmp_path / 'parents'}")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    old = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items()
        if k != "hydra"
    }
    old["optim"]["lr"] = 0.5
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(old))
    with pytest.raises(ConfigError) as info:
        validate_run_dir(cfg, run_dir)
    message = str(info.value)
    assert "optim.lr=0.1" in message and "optim.lr=0.5" in message
    assert "choose a new hydra.run.dir" in message


def test_missing_parent_checkpoint_of_a_finished_parent(tmp_path):
    cfg = compose_cfg(f"paths.parent_dir={tmp_path / 'parents'}", "spawn.at=[0,10]")
    parent = tmp_path / "parents" / make_plan(cfg).parent_key
    (parent / "spawn_points").mkdir(parents=True)
    (parent / "done.json").write_text("{}")
    with pytest.raises(RidgelineError) as info:
        validate_run_dir(cfg, tmp_path / "run")
    assert "step=0000000.ckpt is missing" in str(info.value)
    assert f"delete {parent}" in str(info.value)


# --- in-process: the environment, the parent store and the ranks ---------------------------
def test_a_parent_lock_that_is_a_directory_is_named(tmp_path):
    from ridgeline.job.run_dir import check_writable_dirs

    cfg = compose_cfg(f"paths.parent_dir={tmp_path / 'parents'}")
    plan = make_plan(cfg)
    check_writable_dirs(plan, tmp_path / "run")
    plan.store.lock(plan.parent_key).mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        check_writable_dirs(plan, tmp_path / "run")
    message = str(info.value)
    assert message.startswith(f"paths.parent_dir='{tmp_path / 'parents'}' is not valid")
    assert f"the lock file {plan.store.lock(plan.parent_key)} can be made" in message
    assert "remove it" in message and not (tmp_path / "run").exists()


@pytest.mark.parametrize("kind", ["missing", "file", "unreadable"])
def test_ridgeline_config_dir_must_be_a_readable_directory(tmp_path, monkeypatch, kind):
    from hydra_plugins.ridgeline_user_configs import user_config_dir

    chosen = tmp_path / "mine"
    if kind == "file":
        chosen.write_text("not a directory")
    elif kind == "unreadable":
        chosen.mkdir()

        def listdir(path):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(os, "listdir", listdir)  # root reads any directory
    monkeypatch.setenv("RIDGELINE_CONFIG_DIR", str(chosen))
    with pytest.raises(ConfigError) as info:
        user_config_dir()
    reason = {
        "missing": " (this one does not exist)",
        "file": " (this one is a file)",
        "unreadable": " that you can read (Permission denied)",
    }[kind]
    assert str(info.value) == (
        f"RIDGELINE_CONFIG_DIR={str(chosen)!r} is not valid: a directory of your own configs"
        f"{reason}"
    )


def test_more_nodes_than_this_machine_need_a_launcher(monkeypatch):
    from ridgeline.job.ranks import check_nodes

    for name in ("NODE_RANK", "MASTER_ADDR"):
        monkeypatch.delenv(name, raising=False)
    check_nodes(1)
    with pytest.raises(ConfigError) as info:
        check_nodes(2)
    assert str(info.value).startswith("trainer.num_nodes=2 is not valid: 1 on one machine")
    monkeypatch.setenv("NODE_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    check_nodes(2)  # the user starts the other node with NODE_RANK=1


def test_a_busy_master_port_is_named_before_any_process_starts(monkeypatch):
    import socket

    from ridgeline.job.ranks import check_port

    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("MASTER_PORT", str(port))
        with pytest.raises(ConfigError) as info:
            check_port()
    assert str(info.value).startswith(f"MASTER_PORT={port} is not valid: a free port")
    check_port()  # released: free again
    monkeypatch.setenv("MASTER_PORT", "http")
    with pytest.raises(ConfigError, match="a port number from 1 to 65535, or unset"):
        check_port()
    monkeypatch.delenv("MASTER_PORT")
    check_port()  # unset: Lightning picks one


# --- ridgeline-toy ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,message",
    [
        (["--spawn-steps="], "--spawn-steps='' is not valid: spawn steps as a comma-separated"),
        (["--spawn-steps=,"], "--spawn-steps=',' is not valid"),
        (["--spawn-steps=0,a"], "--spawn-steps='0,a' is not valid"),
        (["--spawn-steps=-5"], "--spawn-steps='-5' is not valid"),
        (["--steps=50", "--spawn-steps=0,50"], "integers from 0 to 49 (< --steps)"),
        (["--steps=0"], "--steps=0 is not valid: an integer >= 1"),
        (["--pairs=0"], "--pairs=0 is not valid: an integer >= 1"),
        (["--out={file}"], "--out='{file}' is not valid: a directory this job can write; {file}"),
        (["--out={file}/sub"], "is not valid: a directory this job can write; {file} is a file"),
    ],
)
def test_toy_bad_arguments_are_one_line_before_compute(tmp_path, capsys, args, message):
    from ridgeline.cli.toy import main as toy_main

    blocker = tmp_path / "a_file"
    blocker.write_text("a file where the output dir should be")
    args = [a.format(file=blocker) for a in args]
    out = [] if any(a.startswith("--out") for a in args) else ["--out", str(tmp_path / "toy")]
    assert toy_main([*out, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no table: nothing was computed
    assert captured.err.strip() == captured.err.strip().splitlines()[0]
    assert captured.err.startswith("ridgeline-toy: error: ")
    assert message.format(file=blocker) in captured.err
    assert sorted(tmp_path.iterdir()) == [blocker]
