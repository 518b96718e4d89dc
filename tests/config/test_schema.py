"""The typed schema: every preset starts from its group's dataclass and writes only what
differs; a value the schema refuses is one line naming the key, the value and what is allowed;
the plan normalises spawn steps once."""

from importlib.resources import files
from pathlib import Path

import pytest
from omegaconf import MISSING, OmegaConf

from helpers.compose import compose_train, ridgeline_conf
from ridgeline.config.resolvers import register_resolvers
from ridgeline.config.schema import BN_POLICIES, GROUP_SCHEMAS, SCHEMAS, Allowed, TrainConfig
from ridgeline.config.settings import read_settings
from ridgeline.errors import ConfigError
from ridgeline.job.plan import make_plan

CONF = Path(str(files("ridgeline.conf")))
PATHS = ["paths.root_dir=/tmp/r", "paths.output_dir=/tmp/r/run"]
PRESETS = [(g, p.stem) for g in GROUP_SCHEMAS for p in sorted((CONF / g).glob("*.yaml"))]


@pytest.fixture
def conf_dir():
    with ridgeline_conf():
        yield


def compose_or_error(*overrides: str):
    return compose_train(*PATHS, *overrides, as_written=list(overrides))


@pytest.mark.parametrize("group,option", PRESETS, ids=lambda v: str(v))
def test_every_preset_is_typed_by_its_groups_schema(conf_dir, group, option):
    extra = ["model=mlp"] if option == "synthetic" else []
    cfg = compose_or_error(f"{group}={option}", *extra)
    assert OmegaConf.get_type(cfg) is TrainConfig
    assert issubclass(OmegaConf.get_type(cfg[group]), GROUP_SCHEMAS[group])


def _schema_of(preset: Path) -> type:
    """The schema a preset starts from, directly or through the preset it extends."""
    (entry,) = [str(d) for d in OmegaConf.load(preset).get("defaults", []) if d != "_self_"]
    if entry.startswith("/schema/"):
        return SCHEMAS[entry.removeprefix("/schema/").removesuffix("@_here_")]
    return _schema_of(preset.with_name(f"{entry}.yaml"))


@pytest.mark.parametrize("group,option", PRESETS, ids=lambda v: str(v))
def test_presets_write_only_what_differs_from_the_schema(group, option):
    preset = CONF / group / f"{option}.yaml"
    schema = _schema_of(preset)
    defaults = OmegaConf.structured(schema)
    written = OmegaConf.load(preset)
    for key in written:
        if key == "defaults" or key not in defaults:
            continue  # a probe component
        default = OmegaConf.to_container(defaults, resolve=False)[key]
        value = OmegaConf.to_container(written, resolve=False)[key]
        assert default == MISSING or value != default, f"{preset.name}: {key} repeats {value}"


def _probe_sections() -> list[tuple[str, dict]]:
    """(file, its probe settings) of every probe preset and every experiment."""
    sections = [(f"probe/{p.name}", OmegaConf.load(p)) for p in sorted((CONF / "probe").glob("*"))]
    for path in sorted((CONF / "experiment").glob("*.yaml")):
        node = OmegaConf.load(path)
        if "probe" in node:
            sections.append((f"experiment/{path.name}", node.probe))
    return [(name, OmegaConf.to_container(n, resolve=False)) for name, n in sections]


def _component_classes() -> dict[str, type]:
    """Each component key of the default probe preset -> its class."""
    from hydra.utils import get_class

    default = OmegaConf.load(CONF / "probe" / "default.yaml")
    return {k: get_class(v["_target_"]) for k, v in default.items() if "_target_" in (v or {})}


def repeated_defaults(section: dict) -> list[str]:
    """``probe.<key>.<option>=value`` for every component option in ``section`` that repeats
    its class's default (and every option the class does not take)."""
    import inspect

    from hydra.utils import get_class

    classes, found = _component_classes(), []
    for key, options in section.items():
        if not isinstance(options, dict) or key == "defaults":
            continue
        cls = get_class(options["_target_"]) if "_target_" in options else classes[key]
        params = inspect.signature(cls).parameters
        for option, value in options.items():
            if option.startswith("_"):
                continue
            if option not in params or value == params[option].default:
                found.append(f"probe.{key}.{option}={value!r}")
    return found


@pytest.mark.parametrize("name,section", _probe_sections(), ids=lambda v: str(v)[:40])
def test_probe_components_write_only_what_differs_from_their_class(name, section):
    """A component's defaults are its class's arguments, written there once: no preset or
    experiment repeats one (a changed class default would silently not apply there)."""
    assert repeated_defaults(section) == [], name


def test_a_repeated_component_default_is_found():
    section = {"layerwise": {"curve": False, "cumulative": False}, "geometry": {"plane": True}}
    assert repeated_defaults(section) == ["probe.layerwise.curve=False"]
    assert repeated_defaults({"x": {"_target_": "ridgeline.probes.BarrierProbe", "splits": None}})


def test_probe_components_take_no_probe_setting():
    """A component's argument never shares a name with a probe setting (ProbeConfig), except
    ``splits``, which restricts the probe's: one name, one meaning, one default."""
    import inspect

    from ridgeline.config.schema import ProbeConfig

    settings = set(ProbeConfig.__dataclass_fields__)
    for key, cls in _component_classes().items():
        shared = (set(inspect.signature(cls).parameters) & settings) - {"splits"}
        assert not shared, f"probe.{key} ({cls.__name__}) also takes probe settings {shared}"


@pytest.mark.parametrize(
    "override,message",
    [
        ("seed=null", "seed=None is not valid: an integer in [0, 4294967295]"),
        ("print_config=maybe", "print_config='maybe' is not valid: true or false"),
        (
            "probe.every_n_steps=2.5",
            "probe.every_n_steps=2.5 is not valid: an integer >= 1, or null (no periodic probe)",
        ),
        (
            "probe.alphas=[0,x,1]",
            "probe.alphas=[0, 'x', 1] is not valid: a list of at least 2 numbers in [0, 1] "
            "including 0 and 1; 'x' is not a number",
        ),
        ("optim.lr=abc", "optim.lr='abc' is not valid: a positive number"),
        (
            "data.eval_test_size=all",
            "data.eval_test_size='all' is not valid: an integer >= 1, or null (the whole test "
            "split)",
        ),
        (
            "spawn.att=5",
            "spawn.att=5 is not valid: spawn.att is not a config key (did you mean spawn.at?); "
            "the keys of spawn are at, parent_checkpoints, children, fresh_optimizer, "
            "independent",
        ),
    ],
)
def test_a_schema_error_is_one_line_with_key_value_and_what_is_allowed(conf_dir, override, message):
    with pytest.raises(ConfigError) as info:
        compose_or_error(override)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "allowed,kind,text",
    [
        (Allowed(low=0.0, high=1.0, open_high=True), float, "a number in [0.0, 1.0)"),
        (Allowed(low=0.0, open_low=True, open_high=True), float, "a number in (0.0, inf)"),
        (Allowed(low=1, null="none"), int, "an integer >= 1, or null (none)"),
        (Allowed(choices=("a", "b"), null="off"), str, "null (off) or one of a, b"),
        (Allowed(choices=BN_POLICIES), str, "one of reset, interpolate, batch, repair"),
    ],
)  # fmt: skip
def test_allowed_values_in_words(allowed, kind, text):
    assert allowed.describe(kind) == text


@pytest.mark.parametrize(
    "allowed,inside,outside",
    [
        (Allowed(low=0.0, high=1.0, open_high=True), [0.0, 0.999], [1.0, -0.1, float("nan")]),
        (Allowed(low=0.0, open_low=True), [1e-9, 1e9], [0.0, float("inf")]),
        (Allowed(low=1, null="none"), [1, None], [0]),
        (Allowed(low=1), [1], [None]),
        (Allowed(choices="ridgeline.landscape.alignment:ALIGNMENT_METHODS"), ["weight"], ["w"]),
    ],
)
def test_allowed_admits_exactly_its_range(allowed, inside, outside):
    assert all(allowed.admits(v) for v in inside)
    assert not any(allowed.admits(v) for v in outside)


def test_a_users_preset_without_the_schema_is_typed_too(tmp_path, monkeypatch):
    """A data preset of one's own that does not start from the schema is read through it: a
    bad type is the same one line, and the schema's defaults fill what it leaves out."""
    register_resolvers()
    mine = tmp_path / "ridgeline_conf" / "data" / "mine.yaml"
    mine.parent.mkdir(parents=True)
    schema_line = "  - /schema/data_mnist_mini@_here_\n"
    mine.write_text((CONF / "data" / "mnist_mini.yaml").read_text().replace(schema_line, ""))
    mine.with_name("bad.yaml").write_text(mine.read_text() + "batch_size: abc\n")
    monkeypatch.chdir(tmp_path)
    cfg = compose_train(*PATHS, "data=mine")
    bad = compose_train(*PATHS, "data=bad")
    assert OmegaConf.get_type(cfg.data) is dict
    settings = read_settings(cfg)
    assert (settings.data.batch_size, settings.data.eval_batch_size) == (128, 1000)
    with pytest.raises(ConfigError) as info:
        read_settings(bad)
    assert str(info.value) == "data.batch_size='abc' is not valid: an integer >= 1"


@pytest.mark.slow  # composes many configs (over 3 s)
def test_the_plan_normalises_spawn_steps_once(conf_dir):
    one = make_plan(compose_or_error("spawn.at=10", "spawn.independent=false"))
    listed = make_plan(compose_or_error("spawn.at=[10,10]", "spawn.independent=false"))
    assert one.spawn_steps == listed.spawn_steps == one.parent_checkpoints == (10,)
    assert one.phases == listed.phases and one.parent_key == listed.parent_key
    assert [p.name for p in one.phases] == ["parent", "spawn_k=0000010"]
    assert one.phases[1].parent_checkpoint == str(one.parent.spawn_point(10))
    saved = make_plan(compose_or_error("spawn.at=10", "spawn.parent_checkpoints=[40,10,0]"))
    assert saved.parent_checkpoints == (0, 10, 40) == saved.phases[0].checkpoint_steps
    assert [p.kind for p in saved.phases] == ["parent", "spawn", "independent"]


def test_the_evaluator_chunks_as_the_probe_config_does():
    """The core cannot read the schema (it sits below config), so its chunk size repeats
    ``probe.chunk_size``'s default; a library user gets the chunks a probe uses."""
    import inspect

    from ridgeline.config.schema import ProbeConfig
    from ridgeline.landscape import Evaluator
    from ridgeline.landscape.alignment import activation_matching, align

    default = ProbeConfig.__dataclass_fields__["chunk_size"].default
    assert default == 1000
    for fn in (Evaluator, activation_matching, align):
        assert inspect.signature(fn).parameters["chunk_size"].default == default, fn
