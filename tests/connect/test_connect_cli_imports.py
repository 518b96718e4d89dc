"""``ridgeline-connect`` parses its arguments (and prints ``--help``) before torch is imported:
its options and defaults live in :mod:`ridgeline.connect.options`."""

import subprocess
import sys

CHECK = """
import sys
from ridgeline.cli.connect import parse_args
args = parse_args(["some/run", "--steps", "3"])
assert args.steps == 3 and args.points == 25, args
print(sorted(m for m in ("torch", "pytorch_lightning") if m in sys.modules))
"""


def test_arguments_are_parsed_before_torch_is_imported():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_options_defaults_are_the_fit_modules():
    from ridgeline.connect import ConnectOptions
    from ridgeline.connect.fit import ConnectOptions as used_by_fit

    assert used_by_fit is ConnectOptions
