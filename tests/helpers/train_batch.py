"""Several ``ridgeline-train`` command lines in one interpreter: ``python train_batch.py SPEC``.

SPEC is a JSON list of ``{"cwd", "args", "env"}``. Each command line runs the console script's
own entry point (``ridgeline.cli.train:main``) as the script would: its argv, its working
directory, the environment plus ``env``, file descriptors 1 and 2 sent to files, exit code from
its ``SystemExit`` (1 and a traceback for any other exception). One line of JSON per command on
the real stdout: ``{"returncode", "stdout", "stderr", "seconds"}``. For configs that are refused
before training: one start-up of Python, torch and Lightning serves them all.
"""

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path


def run_one(entry, case: dict, base_env: dict[str, str]) -> dict:
    os.environ.clear()
    os.environ.update({**base_env, **case.get("env", {})})
    os.chdir(case["cwd"])
    sys.argv = [case["argv0"], *case["args"]]
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        start = time.monotonic()
        try:
            entry()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int | None):
                print(exc.code, file=sys.stderr)
        except BaseException:  # what the interpreter would print and exit 1 with
            traceback.print_exc()
            code = 1
        seconds = time.monotonic() - start
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        out.seek(0), err.seek(0)
        text = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    for fd in saved:
        os.close(fd)
    return {"returncode": code, "stdout": text[0], "stderr": text[1], "seconds": seconds}


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    base_env = dict(os.environ)
    from ridgeline.cli.train import main as entry

    results = [run_one(entry, case, base_env) for case in cases]
    os.environ.clear()
    os.environ.update(base_env)
    for result in results:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
