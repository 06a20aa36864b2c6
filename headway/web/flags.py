"""The flag console: flags per environment with their state, a flag's page with its targeting
in words and its recent changes, switching it on or off and the kill switch (each behind a
confirmation page), and the evaluation tester. Editing targeting is `web.targeting`.

Every change goes through `headway.flags.service.FlagService`, the one the API calls, so it is
validated, versioned, audited and pushed to SDK streams the same way. JSON twins:
`GET /api/flags`, `GET /api/flags/{key}`, `POST /api/flags/{key}/explain`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headway.flags.evaluate import explain
from headway.flags.model import ConfigError, Flag
from headway.flags.service import FlagService, NotFound
from headway.web.condition_text import describe_rule, describe_serve
from headway.web.diff import changed
from headway.web.render import Editing, Posted, Viewing, may_change, posted, render
from headway.web.session import Session

__all__ = ["ACTIONS", "Flags", "missing", "router"]

router = APIRouter(include_in_schema=False)
Change = Annotated[Posted, Depends(posted("editor"))]

# What each confirmed action does, in words for the confirmation page.
ACTIONS = {
    "enable": "Switch on: SDKs start serving its rules and default",
    "disable": "Switch off: SDKs serve its off variant",
    "kill": "Kill: switch off at once, serving the off variant",
}
HISTORY = 20  # changes shown on a flag's page


def _service(request: Request) -> FlagService:
    service: FlagService = request.app.state.flags
    return service


Flags = Annotated[FlagService, Depends(_service)]


@router.get("/flags")
def flag_list(request: Request, service: Flags, session: Viewing) -> HTMLResponse:
    flags = service.list_flags()
    environments = service.environment_keys()
    return render(
        request,
        "flags.html",
        session,
        title="Flags",
        flags=flags,
        environments=environments,
    )


def _flag_page(
    request: Request,
    service: FlagService,
    session: Session,
    flag: Flag,
    status: int = 200,
    **tested: Any,
) -> HTMLResponse:
    return render(
        request,
        "flag.html",
        session,
        status,
        title=f"Flag {flag.key}",
        flag=flag,
        environments=service.environment_keys(),
        history=list(reversed(service.audit(flag.key)))[:HISTORY],
        actions=ACTIONS,
        changed=_changed,
        describe_rule=describe_rule,
        describe_serve=describe_serve,
        **tested,
    )


def _changed(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """What an audited change did to the flag; its version number moves every time."""
    return [c for c in changed(before, after) if c[0] != "version"]


def missing(request: Request, session: Session, error: NotFound) -> HTMLResponse:
    return render(request, "error.html", session, 404, title="Not found", why=str(error))


@router.get("/flags/{key}")
def flag_page(
    request: Request,
    key: str,
    service: Flags,
    session: Viewing,
    environment: str | None = None,
    context: str | None = None,
) -> HTMLResponse:
    try:
        flag = service.require_flag(key)
    except NotFound as error:
        return missing(request, session, error)
    if context is None:
        return _flag_page(request, service, session, flag, tested_env=environment or "production")
    env = environment or "production"
    attributes, problem = _context(context)
    result = None
    if attributes is not None:
        segments = {s.key: s for s in service.list_segments()}
        flags = {f.key: f for f in service.list_flags()}
        evaluation, lines = explain(flag, env, attributes, segments, flags)
        result = {"evaluation": evaluation, "lines": lines}
    return _flag_page(
        request,
        service,
        session,
        flag,
        400 if problem else 200,
        tested_env=env,
        tested_context=context,
        context_problem=problem,
        result=result,
    )


def _context(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The evaluation context typed in the tester, or why it is not one."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        return None, f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
    except RecursionError:
        return None, "nests too deep: an evaluation context is a flat object of attributes"
    if not isinstance(value, dict):
        return None, 'must be a JSON object, such as {"targetingKey": "user-1", "country": "NL"}'
    return value, None


@router.get("/flags/{key}/confirm")
def confirm_page(
    request: Request,
    key: str,
    service: Flags,
    session: Editing,
    action: str = "",
    environment: str = "",
) -> HTMLResponse:
    try:
        flag = service.require_flag(key)
    except NotFound as error:
        return missing(request, session, error)
    problem = _refuse(flag, action, environment)
    if problem:
        return render(request, "error.html", session, 400, title="Bad request", why=problem)
    return render(
        request,
        "confirm.html",
        session,
        title=f"Confirm: {action} {flag.key}",
        flag=flag,
        action=action,
        environment=environment,
        what=ACTIONS[action],
    )


def _refuse(flag: Flag, action: str, environment: str) -> str | None:
    if action not in ACTIONS:
        return f"action must be one of {', '.join(ACTIONS)}, not {action!r}"
    if environment not in flag.environments and not (action == "kill" and environment == ""):
        known = ", ".join(flag.environments) or "none"
        return f"flag {flag.key} has no environment {environment!r} (it has: {known})"
    return None


@router.post("/flags/{key}/change")
def change(request: Request, key: str, service: Flags, form: Change) -> Response:
    action, environment = form.get("action"), form.get("environment")
    try:
        flag = service.require_flag(key)
        problem = _refuse(flag, action, environment)
        if problem:
            return render(
                request, "error.html", form.session, 400, title="Bad request", why=problem
            )
        may_change(form.session, environment or None)
        actor, reason = form.session.actor, form.get("reason") or None
        if action == "kill":
            service.kill(key, actor=actor, environment=environment or None, reason=reason)
        else:
            service.set_enabled(key, environment, action == "enable", actor=actor)
    except NotFound as error:
        return missing(request, form.session, error)
    except ConfigError as error:
        why = "; ".join(f"{i.path}: {i.message}" for i in error.issues)
        return render(request, "error.html", form.session, 422, title="Not changed", why=why)
    return RedirectResponse(f"/flags/{key}", status_code=303)
