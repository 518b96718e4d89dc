"""A schema error of Hydra / OmegaConf as ridgeline's one line: ``key=value is not valid: ...``.

OmegaConf names the key (``full_key``) and the problem over several lines; the schema field
(:mod:`ridgeline.config.schema`) says what the key accepts, and the override the user typed
gives the value as written.
"""

import difflib
import re
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

from ridgeline.config.schema import GROUP_SCHEMAS, TrainConfig, allowed_of
from ridgeline.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from omegaconf.errors import OmegaConfBaseException

_ELEMENT: dict[object, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
}


def _cause(exc: BaseException) -> "OmegaConfBaseException | None":
    """The OmegaConf error inside Hydra's exception (or ``exc`` itself), if any."""
    from omegaconf.errors import OmegaConfBaseException

    node: BaseException | None = exc
    while node is not None:
        if isinstance(node, OmegaConfBaseException) and getattr(node, "full_key", None):
            return node
        node = node.__cause__
    return None


def _field(full_key: str, object_type: Any) -> "tuple[type[DataclassInstance], str] | None":
    """The schema class and field name of a dotted key, e.g. ``probe.alphas``."""
    group, _, name = full_key.rpartition(".")
    if (
        isinstance(object_type, type)
        and is_dataclass(object_type)
        and name in object_type.__dataclass_fields__
    ):
        return object_type, name
    schema = GROUP_SCHEMAS.get(group) if group else TrainConfig
    if schema is not None and name in schema.__dataclass_fields__:
        return schema, name
    return None


def _typed_value(key: str, overrides: list[str], message: str) -> Any:
    """The value of ``key`` as the user wrote it in an override, else as OmegaConf quotes it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for text in reversed(overrides):
        if text.lstrip("+~").split("=")[0] == key and "=" in text:
            try:
                (override,) = parser.parse_overrides([text])
                return override.value()
            except Exception:
                return text.partition("=")[2]
    quoted = re.search(r"[Vv]alue '([^']*)'", message)
    if "is not Optional" in message:
        return None
    return quoted.group(1) if quoted else "?"


def schema_error(
    exc: BaseException, overrides: Sequence[str] = (), cfg: Any = None
) -> ConfigError | None:
    """The :class:`ConfigError` for a type or choice error of the schema, or for a resolver's
    bad arguments (the value as written: in ``overrides``, else in ``cfg``); None for others."""
    from omegaconf.errors import (
        ConfigAttributeError,
        ConfigKeyError,
        InterpolationToMissingValueError,
        MissingMandatoryValue,
        ValidationError,
    )

    cause = _cause(exc)
    missing = isinstance(cause, MissingMandatoryValue)
    if missing and not isinstance(cause, InterpolationToMissingValueError):
        # a user's preset that leaves out (or empties) what the group's schema requires
        key = str(cause.full_key)  # type: ignore[union-attr]
        group = key.partition(".")[0]
        return ConfigError(
            key,
            "???",
            f"a value is required and the {group} preset sets none; set {key}=..., or start "
            f"the preset from a shipped one (e.g. {group}=<name> of ridgeline-train --help)",
        )
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
        return _unknown_key(cause, list(overrides))
    resolver = _resolver_error(cause)
    if resolver is not None and cause is not None:
        key = str(cause.full_key)
        value = _typed_value(key, list(overrides), "")
        if value == "?" and cfg is not None:
            value = _written(cfg, key)
        return ConfigError(key, value, str(resolver))
    if not isinstance(cause, ValidationError):
        return None
    full_key = str(cause.full_key)
    element = re.search(r"\[(\d+)\]$", full_key)
    key = re.sub(r"\[\d+\]$", "", full_key)
    message = str(getattr(cause, "msg", "") or cause)
    value = _typed_value(key, list(overrides), message)
    found = _field(key, getattr(cause, "object_type", None))
    described = allowed_of(*found) if found else None
    text = described[0].describe(described[1]) if described else message.splitlines()[0]
    if element and isinstance(value, list) and int(element.group(1)) < len(value):
        kind = _element_kind(*found) if found else None
        text += f"; {value[int(element.group(1))]!r} is not {_ELEMENT.get(kind, 'allowed')}"
    return ConfigError(key, value, text.rstrip("."))


def _written(cfg: Any, key: str) -> Any:
    """The unresolved value of dotted ``key`` in ``cfg`` (an interpolation as written)."""
    from omegaconf import OmegaConf

    node: Any = OmegaConf.to_container(cfg, resolve=False)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "?"
        node = node[part]
    return node


def _resolver_error(cause: BaseException | None) -> BaseException | None:
    """The ResolverError (a resolver's bad arguments) behind an interpolation error, if any."""
    from ridgeline.config.resolvers import ResolverError

    while cause is not None:
        if isinstance(cause, ResolverError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def _unknown_key(cause: "OmegaConfBaseException", overrides: list[str]) -> ConfigError | None:
    """A key a schema'd group lacks: the closest key of that group, and its keys."""
    schema = getattr(cause, "object_type", None)
    if not is_dataclass(schema):
        return None
    key = str(cause.full_key)
    group, _, name = key.rpartition(".")
    known = [f.name for f in fields(schema)]
    guess = difflib.get_close_matches(name, known, n=1)
    prefix = f"{group}." if group else ""
    hint = f" (did you mean {prefix}{guess[0]}?)" if guess else ""
    where = f"of {group}" if group else "at the top level"
    value = _typed_value(key, overrides, str(cause))
    return ConfigError(
        key, value, f"{key} is not a config key{hint}; the keys {where} are {', '.join(known)}"
    )


def _element_kind(schema: "type[DataclassInstance]", name: str) -> type | None:
    """The element type of a list field (``list[float]`` -> float)."""
    args = getattr(schema.__dataclass_fields__[name].type, "__args__", ())
    return args[0] if args else None
