"""Flagged pull requests: when a pull request opens or moves, read its diff through the API,
link it to the flags it adds, uses or removes, create the new ones switched off with its author
as owner, and keep one check run per head commit that lists them."""

from __future__ import annotations

import threading
from typing import Any, Final

from pydantic import Field

from headway.flags.service import Conflict, FlagService
from headway.github.app import GitHubApp
from headway.github.pulls import CHECK_NAME, check_output, flags_in_diff
from headway.metrics.results import Result
from headway.sources.mapping import text
from headway.store import github as rows

__all__ = ["ACTIONS", "FlaggedPull", "on_pull_request"]

ACTIONS: Final = frozenset({"opened", "synchronize", "reopened"})
# Two deliveries for one head commit must not both create a check run; in one process this lock
# orders them, and the stored id makes the second an update.
_check_runs = threading.Lock()


class FlaggedPull(Result):
    repository: str
    number: int
    head_sha: str
    flags: dict[str, str] = Field(description="Flag key → added, used or removed.")
    created: list[str] = Field(description="Flags created off, owned by the author.")
    check_run: int = Field(description="The id of the one check run of this head commit.")


def _boolean_flag(key: str, owner: str, repository: str, number: int) -> dict[str, Any]:
    return {
        "key": key,
        "type": "boolean",
        "owner": owner,
        "description": f"Added by {repository}#{number}",
        "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    }


def on_pull_request(app: GitHubApp, payload: Any) -> FlaggedPull | None:
    """Handle a `pull_request` event; None for actions that change no code (closed, labeled)."""
    if text(payload, "action") not in ACTIONS:
        return None
    repository = text(payload, "repository.full_name")
    number = int(text(payload, "pull_request.number"))
    head_sha = text(payload, "pull_request.head.sha")
    author = text(payload, "pull_request.user.login")
    installation = int(text(payload, "installation.id"))
    token = app.tokens().token(installation)
    files = list(app.client.paginate(f"/repos/{repository}/pulls/{number}/files", token=token))
    changes = flags_in_diff(files)

    flags = FlagService(app.store, clock=app.clock)
    served = {f.key for f in flags.list_flags(include_archived=True)}
    created = []
    for change in changes:
        if change.change == "added" and change.flag not in served:
            document = _boolean_flag(change.flag, author, repository, number)
            try:
                flags.create_flag(document, actor=f"github:{author}")
            except Conflict:  # another delivery created it a moment ago
                continue
            created.append(change.flag)
    now = app.clock()
    with app.store.transaction() as tx:
        pairs = [(c.flag, c.change) for c in changes]
        rows.put_pull_flags(tx, repository, number, head_sha, pairs, now)

    body = {
        "name": CHECK_NAME,
        "status": "completed",
        "conclusion": "neutral",
        "output": check_output(changes, set(created), app.credentials().url),
    }
    with _check_runs:
        existing = rows.check_run(app.store, repository, head_sha)
        if existing is not None:
            app.client.json(
                "PATCH", f"/repos/{repository}/check-runs/{existing}", token=token, json=body
            )
            check_run = existing
        else:
            answer = app.client.json(
                "POST",
                f"/repos/{repository}/check-runs",
                token=token,
                json={**body, "head_sha": head_sha},
            )
            check_run = int(answer["id"])
            with app.store.transaction() as tx:
                rows.put_check_run(tx, repository, head_sha, check_run, number, now)
    return FlaggedPull(
        repository=repository,
        number=number,
        head_sha=head_sha,
        flags={c.flag: c.change for c in changes},
        created=created,
        check_run=check_run,
    )
