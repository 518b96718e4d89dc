"""ridgeline's typed config schema in Hydra's ConfigStore (``schema/<name>``).

Hydra imports every module of ``hydra_plugins`` when it starts, before it composes a config:
the presets in ``ridgeline.conf`` find their schema whether the config is composed by
``ridgeline-train``, by ``hydra.compose`` in a test or notebook, or by a launcher's job.
"""

from ridgeline.config.schema import register_schema

register_schema()
