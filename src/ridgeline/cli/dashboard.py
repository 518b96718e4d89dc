"""``ridgeline-dashboard --project P [--entity E] [--group G]``: a ready-made W&B workspace.

Saves a workspace whose panels are the paper's figures (``ridgeline.report.dashboard``) to the
W&B project; it needs a W&B login and network. Offline, it says so in one line and exits 1.
"""

import argparse
import os
import socket
import sys
from urllib.parse import urlparse

from ridgeline.cli.errors import fail
from ridgeline.tracking.wandb_upload import wandb_logged_in

PROG = "ridgeline-dashboard"


def _server_url() -> str:
    import wandb

    return os.environ.get("WANDB_BASE_URL") or wandb.Settings().base_url


def unreachable_reason(url: str, timeout_s: float = 5.0) -> str | None:
    """Why W&B cannot be used from here (offline mode, no login, server unreachable), or None."""
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return f"WANDB_MODE={os.environ['WANDB_MODE']}"
    if not wandb_logged_in():
        return "not logged in to W&B (run `wandb login` or set WANDB_API_KEY)"
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        return f"cannot reach {url} ({exc.strerror or exc})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="the W&B project the runs log to")
    parser.add_argument("--entity", help="W&B user or team (default: your default entity)")
    parser.add_argument("--group", help="show only this W&B group (one job or sweep)")
    args = parser.parse_args(argv)
    url = _server_url()
    reason = unreachable_reason(url)
    if reason is not None:
        return fail(PROG, f"saving a workspace needs W&B online: {reason}", code=1)
    import wandb

    from ridgeline.report.dashboard import DashboardTarget, build_workspace

    try:
        entity = args.entity or wandb.Api().default_entity
        if entity is None:
            raise ValueError("no default W&B entity for this login; pass --entity")
        workspace = build_workspace(DashboardTarget(args.project, entity, args.group)).save()
    except Exception as exc:  # the W&B API's errors (HTTP, auth, unknown project) in one line
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return fail(PROG, f"W&B did not save the workspace: {first_line}", code=1)
    print(f"workspace saved: {workspace.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
