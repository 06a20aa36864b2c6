"""Flagged pull requests: when a pull request opens or moves, read its diff through the API,
link it to the flags it adds, uses or removes, create the new ones switched off with its author
as owner, and keep one check run per head commit that lists them.

The check run concludes `neutral`, except when the repository's risky-code rule
(`headway.github.risky`) finds risky code and the pull request adds or uses no flag: then it
is `action_required`, which blocks a merge only where branch protection requires the check.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any, Final

from pydantic import Field

from headway.flags.service import Conflict, FlagService
from headway.github.app import GitHubApp
from headway.github.pulls import CHECK_NAME, check_output, flags_in_diff, guarded
from headway.github.risky import Risk, RiskyRules, assess
from headway.metrics.results import Result
from headway.sources.mapping import text
from headway.store import github as rows

__all__ = ["ACTIONS", "FlaggedPull", "on_pull_request"]

log = logging.getLogger("headway.github")

ACTIONS: Final = frozenset({"opened", "synchronize", "reopened"})
# Two deliveries for one head commit must not both create a check run: in one process this lock
# orders them; across servers a claim in the store does (`_one_check_run`).
_check_runs = threading.Lock()
CLAIM_LIFETIME: Final = timedelta(minutes=1)  # a claim older than this was left by a dead server
CLAIM_WAIT_S: Final = 10.0


class FlaggedPull(Result):
    repository: str
    number: int
    head_sha: str
    flags: dict[str, str] = Field(description="Flag key → added, used or removed.")
    created: list[str] = Field(description="Flags created off, owned by the author.")
    check_run: int = Field(
        description="The id of the one check run of this head commit; 0 while another server "
        "is creating it."
    )
    conclusion: str = Field(
        description="`action_required` when it touches risky code and adds or uses no flag, "
        "else `neutral`."
    )
    risky_files: list[str] = Field(description="Changed files the risky-code rule names.")


def _boolean_flag(key: str, owner: str, repository: str, number: int) -> dict[str, Any]:
    return {
        "key": key,
        "type": "boolean",
        "owner": owner,
        "description": f"Added by {repository}#{number}",
        "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    }


def _one_check_run(
    app: GitHubApp, repository: str, head_sha: str, number: int, token: str, body: dict[str, Any]
) -> int:
    """Create the head's check run, or update it. Of several servers, the one whose claim
    goes in creates it; another waits for its id (ten seconds at most) and updates it, or
    answers 0 when it is still being created: one head's diff is one list of flags, so the
    creator's check run says what this one would."""
    now = app.clock()
    if rows.claim_check_run(app.store, repository, head_sha, number, now, now - CLAIM_LIFETIME):
        try:
            made = app.client.json(
                "POST",
                f"/repos/{repository}/check-runs",
                token=token,
                json={**body, "head_sha": head_sha},
            )
        except BaseException:
            rows.drop_claim(app.store, repository, head_sha)  # the next delivery tries again
            raise
        check_run = int(made["id"])
        with app.store.transaction() as tx:
            rows.put_check_run(tx, repository, head_sha, check_run, number, app.clock())
        return check_run
    deadline = time.monotonic() + CLAIM_WAIT_S
    while (found := rows.check_run_claim(app.store, repository, head_sha)) == 0:
        if time.monotonic() > deadline:
            return 0
        time.sleep(0.05)
    if found is None:  # its creator failed and let go: claim it afresh
        return _one_check_run(app, repository, head_sha, number, token, body)
    app.client.json("PATCH", f"/repos/{repository}/check-runs/{found}", token=token, json=body)
    return found


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
    risk = _risk(app, repository, files)

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

    link = app.credentials().url
    marked = risk is not None and risk.risky and not guarded(changes)
    body: dict[str, Any] = {
        "name": CHECK_NAME,
        "status": "completed",
        "conclusion": "action_required" if marked else "neutral",
        "output": check_output(changes, set(created), link, risk),
    }
    if marked and link:  # GitHub's "Resolve" button: where a flag is made
        body["details_url"] = f"{link}/flags"
    with _check_runs:
        check_run = _one_check_run(app, repository, head_sha, number, token, body)
    return FlaggedPull(
        repository=repository,
        number=number,
        head_sha=head_sha,
        flags={c.flag: c.change for c in changes},
        created=created,
        check_run=check_run,
        conclusion=body["conclusion"],
        risky_files=list(risk.files) if risk is not None else [],
    )


def _risk(app: GitHubApp, repository: str, files: list[Any]) -> Risk | None:
    rule = RiskyRules(app.store, app.clock).applying(repository)
    if rule is None:
        return None
    if rule.problem is not None:  # set by hand in the store; the list shows it too
        log.warning("the risky-code rule %s is not applied: %s", rule.repository, rule.problem)
        return None
    return assess(rule, files)
