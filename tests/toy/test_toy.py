"""The scalar toy (docs/design.md §6): analytic barrier and prediction, noisy GD, the CLI."""

import matplotlib.image
import pytest
import torch

from ridgeline.cli.toy import main as toy_main
from ridgeline.toy.scalar import ToySettings, analytic_pair, pair_barrier, run_toy


@pytest.mark.parametrize("a", [1.0, 2.0, 0.5, 3.0])
def test_analytic_values_of_design(a):
    p = analytic_pair(a)
    assert p.midpoint == pytest.approx(1.0, abs=1e-12)
    assert p.chord == pytest.approx(1.0, abs=1e-12)
    assert p.endpoint_mean == pytest.approx(1.0, abs=1e-12)
    assert p.dHd_mid == pytest.approx(-16.0, abs=1e-9)
    assert p.predicted == pytest.approx(2.0, abs=1e-10)
    assert not p.same_valley


def test_same_valley_pair_has_small_barrier():
    p = pair_barrier((1.0, 1.0), (1.1, 1 / 1.1))
    assert p.same_valley and abs(p.midpoint) < 0.01 and abs(p.predicted) < 0.01


def test_toy_run_is_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    r1 = run_toy(ToySettings(spawn_steps=(0, 60), total_steps=120, n_pairs=8, seed=0))
    assert torch.equal(torch.get_rng_state(), state)
    r2 = run_toy(ToySettings(spawn_steps=(0, 60), total_steps=120, n_pairs=8, seed=0))
    assert torch.equal(r1.parent, r2.parent)
    assert [p.midpoint for p in r1.spawns[0].pairs] == [p.midpoint for p in r2.spawns[0].pairs]


def test_ridge_spawns_split_mountainside_spawns_do_not():
    # the default demo: k = 0 on the ridge, k = 80 down a mountainside
    run = run_toy(ToySettings(seed=0))
    ridge, side = run.spawns[0], run.spawns[-1]
    assert ridge.split_fraction > 0 and side.split_fraction == 0
    assert abs(side.mean("midpoint")) < 0.01
    for p in ridge.pairs:
        if not p.same_valley:  # children near (a, 1/a) and (−a', −1/a'): analytic regime
            assert 0.8 < p.midpoint < 1.3
            assert 1.6 < p.predicted < 2.6


def test_toy_cli_prints_table_and_writes_figure(tmp_path, capsys):
    assert toy_main(["--out", str(tmp_path), "--pairs", "4", "--spawn-steps", "0,40"]) == 0
    out = capsys.readouterr().out
    assert "B_mid = 1.000000" in out and "prediction = 2.000000" in out
    image = matplotlib.image.imread(tmp_path / "toy_scalar.png")
    assert image.shape[0] > 200


def test_toy_cli_rejects_spawn_past_the_end(tmp_path, capsys):
    assert toy_main(["--out", str(tmp_path), "--spawn-steps", "500"]) == 2
    assert "spawn steps" in capsys.readouterr().err


# The tiny-MLP toy: the instability transition of Frankle et al. (2020) in a real network.


@pytest.fixture(scope="module")
def mlp_default():
    from ridgeline.toy.mlp import MlpToySettings, run_mlp_toy

    return run_mlp_toy(MlpToySettings(seed=0))  # the defaults, ~13 s on one thread


@pytest.mark.slow  # mlp_default trains the MLP toy at its defaults (~13 s)
def test_mlp_toy_defaults_unstable_at_init_stable_later(mlp_default):
    # Measured over seeds 0-5: k = 0 loss barrier 0.44-1.18 nats, error barrier 20-52 points;
    # k = 300 |loss barrier| <= 0.006 nats.
    first, last = mlp_default.spawns[0], mlp_default.spawns[-1]
    assert first.spawn_step == 0 and last.spawn_step == 300
    assert first.mean("loss_midpoint") > 0.2 and first.mean("error_barrier") > 0.08
    assert first.mean("predicted") > 0
    for p in (p for s in mlp_default.spawns for p in s.pairs if p.loss_midpoint > 0.05):
        assert p.predicted > 0  # a ridge between the children: negative curvature along Δ
    assert abs(last.mean("loss_midpoint")) < 0.02 and last.mean("error_barrier") < 0.03
    assert last.mean("endpoint_error") < 0.1  # the children did learn the task


def test_mlp_toy_reproducible_and_leaves_global_rng_alone():
    from ridgeline.toy.mlp import MlpToySettings, run_mlp_toy

    state = torch.get_rng_state()
    short = MlpToySettings(spawn_steps=(0, 20), total_steps=60, n_pairs=1, seed=3)
    r1 = run_mlp_toy(short)
    assert torch.equal(torch.get_rng_state(), state)
    r2 = run_mlp_toy(short)
    assert [s.pairs for s in r1.spawns] == [s.pairs for s in r2.spawns]
    with pytest.raises(ValueError, match="spawn steps"):
        run_mlp_toy(MlpToySettings(spawn_steps=(70,), total_steps=60))
    with pytest.raises(ValueError, match="n_pairs"):
        run_mlp_toy(MlpToySettings(n_pairs=0))


@pytest.mark.slow  # trains the MLP toy at its defaults twice
def test_toy_cli_mlp_prints_table_and_writes_figure(tmp_path, capsys, mlp_default):
    from ridgeline.toy.mlp import format_mlp_table

    args = ["--out", str(tmp_path), "--pairs", "2", "--spawn-steps", "0,40", "--mlp"]
    assert toy_main([*args, "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "loss B_mid (nats)" in out and "error barrier (pp)" in out
    assert f"{mlp_default.spawns[0].mean('loss_midpoint'):+.4f}" in out
    assert format_mlp_table(mlp_default) in out  # the defaults, run again, give the same table
    image = matplotlib.image.imread(tmp_path / "toy_mlp.png")
    assert image.shape[0] > 200 and image.shape[1] > 1000


@pytest.mark.parametrize("noise", ["nan", "inf", "-0.1"])
def test_toy_cli_rejects_a_noise_that_is_not_a_finite_number_ge_0(tmp_path, capsys, noise):
    assert toy_main(["--out", str(tmp_path), "--noise", noise]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ridgeline-toy: error: --noise={float(noise)} is not valid: a finite number >= 0"
    assert list(tmp_path.iterdir()) == []  # no figure
