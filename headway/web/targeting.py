"""Editing one environment's targeting: its rules (conditions on context attributes, segments,
other flags' variants; what each serves), its default serve and off variant.

The form posts to itself: a button that adds, moves or removes a rule or a condition gets the
form back changed; "Review changes" asks the flag service to check the change without saving
it (`update_environment(dry_run=True)`) and shows what it would change, before → after; "Yes,
save" makes the same call for real, naming the flag version the form started from, as
`PATCH /api/flags/{key}/environments/{environment}` does. A problem the service finds is
shown beside the field it names, with everything typed kept; a flag changed meanwhile is a
409 with the form again. JSON twin: `GET /api/flags/{key}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headway.flags.model import ConfigError, EnvironmentConfig, Flag, Issue
from headway.flags.service import Conflict, FlagService, NotFound
from headway.web.condition_text import OPERATORS, describe_rule, describe_serve
from headway.web.diff import changed
from headway.web.flags import Flags, missing
from headway.web.problems import Problems, label, place
from headway.web.render import Editing, Posted, may_change, posted, render
from headway.web.session import Session
from headway.web.targeting_form import TargetingForm

__all__ = ["DIFF_LIMIT", "config_diff", "router"]

router = APIRouter(include_in_schema=False)
Change = Annotated[Posted, Depends(posted("editor"))]
DIFF_LIMIT = 200  # leaves listed on a confirmation page


def _environment(flag: Flag, environment: str) -> EnvironmentConfig:
    if environment not in flag.environments:
        known = ", ".join(flag.environments) or "none"
        raise NotFound(f"flag {flag.key} has no environment {environment!r} (it has: {known})")
    return flag.environments[environment]


@router.get("/flags/{key}/targeting/{environment}")
def edit_page(
    request: Request, key: str, environment: str, service: Flags, session: Editing
) -> HTMLResponse:
    may_change(session, environment)
    try:
        flag = service.require_flag(key)
        env = _environment(flag, environment)
    except NotFound as error:
        return missing(request, session, error)
    return _form(request, service, session, flag, environment, TargetingForm.of(env, flag.version))


def _form(
    request: Request,
    service: FlagService,
    session: Session,
    flag: Flag,
    environment: str,
    form: TargetingForm,
    problems: Problems | None = None,
    status: int = 200,
    note: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "targeting.html",
        session,
        status,
        title=f"Targeting of {flag.key} in {environment}",
        flag=flag,
        environment=environment,
        enabled=flag.environments[environment].enabled,
        form=form,
        problems=problems or Problems(),
        label=label,
        operators=OPERATORS,
        variants=[v.key for v in flag.variants],
        segments=[s.key for s in service.list_segments()],
        flags=[f.key for f in service.list_flags() if f.key != flag.key],
        note=note,
    )


@router.post("/flags/{key}/targeting/{environment}")
def change(
    request: Request, key: str, environment: str, service: Flags, posted_form: Change
) -> Response:
    session = posted_form.session
    may_change(session, environment)
    try:
        flag = service.require_flag(key)
        before = _environment(flag, environment)
    except NotFound as error:
        return missing(request, session, error)
    op = posted_form.get("op") or "review"
    form = TargetingForm.read(posted_form.fields)
    variants = [v.key for v in flag.variants]

    def again(
        problems: Problems | None = None, status: int = 200, note: str | None = None
    ) -> HTMLResponse:
        return _form(request, service, session, flag, environment, form, problems, status, note)

    if op == "edit":  # back from the confirmation page, as it was typed
        return again()
    if op not in ("review", "save"):
        try:
            form.edit(op, _new_rule_serves(flag))
        except ValueError as error:
            return render(request, "error.html", session, 400, title="Bad request", why=str(error))
        return again()
    form.compact()
    document, issues = form.document()
    version = _version(form.version, issues)
    if issues:
        return again(place(issues, form.anchors(variants), document), 422)
    try:
        after = service.update_environment(
            key,
            environment,
            document,
            actor=session.actor,
            action="targeting",
            comment=posted_form.get("comment").strip() or None,
            expected_version=version,
            dry_run=op == "review",
        )
    except NotFound as error:
        return missing(request, session, error)
    except ConfigError as error:
        prefix = f"environments.{environment}"
        return again(place(error.issues, form.anchors(variants), document, prefix), 422)
    except Conflict:
        current = service.require_flag(key)
        note = (
            f"Someone changed {key} since this form was opened (version {form.version} → "
            f"{current.version}). Your edits are kept below: review them again to see what "
            "they would change now."
        )
        form.version = str(current.version)
        return again(status=409, note=note)
    if op == "save":
        return RedirectResponse(f"/flags/{key}#targeting-{environment}", status_code=303)
    now = after.environments[environment]
    rows = config_diff(before.model_dump(mode="json"), now.model_dump(mode="json"))
    if not rows:
        return again(note=f"Nothing to save: {environment} serves this already.")
    return render(
        request,
        "change_confirm.html",
        session,
        title=f"Confirm the targeting of {flag.key} in {environment}",
        heading=f"Save the targeting of {flag.key} in {environment}?",
        action=f"/flags/{key}/targeting/{environment}",
        cancel=f"/flags/{key}",
        fields=form.fields(),
        rows=rows,
        before=_in_words(before),
        after=_in_words(now),
        state=_state(environment, now.enabled),
    )


def _version(text: str, issues: list[Issue]) -> int | None:
    if text.isdigit() and len(text) <= 12:
        return int(text)
    issues.append(Issue(path="version", message="the form lost its version: reload the page"))
    return None


def _new_rule_serves(flag: Flag) -> str:
    """A new rule serves the `true` variant of a boolean flag, else the first variant."""
    return next((v.key for v in flag.variants if v.value is True), flag.variants[0].key)


def config_diff(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What a change does to a configuration, leaf by leaf. A split's bucket allocation is
    derived from its weights (and carried from what was served before), so it is left out."""
    return changed(_without_allocation(before), _without_allocation(after), limit=DIFF_LIMIT)


def _without_allocation(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: _without_allocation(v) for k, v in document.items() if k != "allocation"}
    if isinstance(document, list):
        return [_without_allocation(v) for v in document]
    return document


def _in_words(env: EnvironmentConfig) -> list[str]:
    rules = [f"Rule {i}: {describe_rule(rule)}" for i, rule in enumerate(env.rules, 1)]
    return [
        *rules,
        f"Otherwise: {describe_serve(env.default)}",
        f"When switched off: {env.off_variant}",
    ]


def _state(environment: str, enabled: bool) -> str:
    if enabled:
        return f"{environment} is on: SDKs following the stream get this within seconds."
    return f"{environment} is off: it serves its off variant until it is switched on."
