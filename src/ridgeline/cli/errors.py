"""How a console script ends on a problem the user can fix: one line ``<prog>: error: ...`` on
stderr and its exit code; an exception that is not such a problem keeps its traceback."""

import sys

from ridgeline.config.hydra_errors import EXIT_USER_ERROR, is_write_error, os_error_message


def fail(
    prog: str,
    problem: str | BaseException,
    *,
    keys: str = "--out",
    code: int = EXIT_USER_ERROR,
    squeeze: bool = False,
) -> int:
    """Say ``problem`` as ``<prog>: error: <message>`` on stderr and return the exit ``code``.

    ``problem`` is the message, or the exception caught: an OSError of creating or writing a
    path is said with that path and its fix (``keys``: the arguments that choose another
    location); any other OSError is a bug and is raised again; another exception is said by its
    text. ``squeeze`` folds runs of white space into one space, as ``ridgeline-train`` does
    (:func:`ridgeline.config.hydra_errors.error`, whose ``prog`` is ``ridgeline``).
    """
    if isinstance(problem, OSError):
        if not is_write_error(problem):
            raise problem
        message = os_error_message(problem, keys)
    else:
        message = str(problem)
    if squeeze:
        message = " ".join(message.split())
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code
