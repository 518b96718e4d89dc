import math

import pytest

from ridgeline.training.schedules import constant, cosine, shifted, step_decay, warmup_cosine


def test_constant_is_one_everywhere():
    assert [constant()(t) for t in (0, 7, 10_000)] == [1.0, 1.0, 1.0]


def test_step_decay_multiplies_at_each_milestone():
    f = step_decay([10, 20], gamma=0.5)
    assert [f(t) for t in (0, 9, 10, 19, 20, 99)] == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_cosine_endpoints_and_midpoint():
    f = cosine(100, final_factor=0.1)
    assert f(0) == pytest.approx(1.0)
    assert f(50) == pytest.approx(0.1 + 0.9 * 0.5)
    assert f(100) == pytest.approx(0.1)
    assert f(500) == pytest.approx(0.1)


def test_warmup_is_linear_then_cosine():
    f = warmup_cosine(110, warmup_steps=10)
    assert [f(t) for t in range(10)] == pytest.approx([(t + 1) / 10 for t in range(10)])
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_shifted_continues_the_parent_schedule():
    f = step_decay([30], gamma=0.1)
    g = shifted(f, 25)
    assert [g(t) for t in (0, 4, 5)] == [f(25), f(29), f(30)]
