"""Hydra search-path plugin: ridgeline-train also reads the user's own configs.

The user's config dir is ``$RIDGELINE_CONFIG_DIR`` when set, else ``./ridgeline_conf`` when it
exists. It goes into the search path just before ridgeline's shipped configs
(``pkg://ridgeline.conf``), so its files add options to any group and a file at the same path
as a shipped one replaces it. Other Hydra applications are left alone.
"""

import os
import sys

from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.plugins.search_path_plugin import SearchPathPlugin

from ridgeline.errors import ConfigError

SHIPPED_CONFIGS = "pkg://ridgeline.conf"
USER_CONFIG_ENV = "RIDGELINE_CONFIG_DIR"
USER_CONFIG_DIR = "ridgeline_conf"


def user_config_dir() -> str | None:
    """Absolute path of the user's config dir, or None when there is none."""
    chosen = os.environ.get(USER_CONFIG_ENV)
    if chosen is None:
        return os.path.abspath(USER_CONFIG_DIR) if os.path.isdir(USER_CONFIG_DIR) else None
    allowed = "a directory of your own configs"
    if not os.path.exists(chosen):
        raise ConfigError(USER_CONFIG_ENV, chosen, f"{allowed} (this one does not exist)")
    if not os.path.isdir(chosen):
        raise ConfigError(USER_CONFIG_ENV, chosen, f"{allowed} (this one is a file)")
    try:
        os.listdir(chosen)
    except OSError as exc:
        raise ConfigError(
            USER_CONFIG_ENV, chosen, f"{allowed} that you can read ({exc.strerror or exc})"
        ) from None
    return os.path.abspath(chosen)


class RidgelineUserConfigs(SearchPathPlugin):
    """Puts the user's config dir before ridgeline's shipped configs."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        main = SearchPathQuery(provider="main", path=SHIPPED_CONFIGS)
        if not any(
            e.provider == main.provider and e.path == main.path for e in search_path.get_path()
        ):
            return
        try:
            path = user_config_dir()
        except ConfigError as exc:
            print(f"ridgeline: error: {exc}", file=sys.stderr)
            sys.exit(2)
        if path is not None:
            search_path.prepend("ridgeline-user", f"file://{path}", anchor=main)
