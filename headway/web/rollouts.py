"""Rollouts: each one's state, stage and the controller's latest judgement per guardrail, its
history, and pause / resume / roll back behind a confirmation page.

Through `headway.rollouts.controller.RolloutService` (the app's, which the API's lifespan
starts), so a command from the app is the same event as one from `headway rollouts` or
`POST /api/rollouts/{flag}/{environment}/{action}`. JSON twins: `GET /api/rollouts`,
`GET /api/rollouts/{flag}/{environment}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from headway.rollouts import history
from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import ACTIVE_STATES, PlanError, RolloutError, RolloutNotFound
from headway.rollouts.results import (
    GuardrailHistory,
    RolloutResult,
    RolloutSignals,
    RolloutStatus,
)
from headway.rollouts.store import list_rollouts
from headway.web.charts import INK, MUTED, Line, over_time
from headway.web.format import number, percent
from headway.web.render import Editing, Posted, Viewing, may_change, posted, render
from headway.web.session import Session

__all__ = ["COMMANDS", "router"]

router = APIRouter(include_in_schema=False)
Command = Annotated[Posted, Depends(posted("editor"))]

# What each command does, in words for its confirmation page, and the states it applies to.
COMMANDS = {
    "pause": (
        "Pause: stay at this stage's exposure, judge nothing until resumed",
        ("running", "waiting_approval"),
    ),
    "resume": ("Resume: judge again and advance when the guardrails allow", ("paused",)),
    "rollback": (
        "Roll back: serve the control to everyone and record a failed release",
        tuple(str(s) for s in ACTIVE_STATES),
    ),
}


def _service(request: Request) -> RolloutService:
    service: RolloutService = request.app.state.rollouts
    return service


Rollouts = Annotated[RolloutService, Depends(_service)]


@router.get("/rollouts")
def rollout_list(request: Request, service: Rollouts, session: Viewing) -> HTMLResponse:
    rollouts = [RolloutResult.model_validate(r.as_dict()) for r in list_rollouts(service.store)]
    active = [r for r in rollouts if r.finished_at is None]
    return render(
        request,
        "rollouts.html",
        session,
        title="Rollouts",
        active=active,
        finished=[r for r in rollouts if r.finished_at is not None],
        signals=RolloutSignals.model_validate(service.signals()),
    )


def _problem(request: Request, session: Session, error: PlanError) -> HTMLResponse:
    status = (
        404
        if isinstance(error, RolloutNotFound)
        else 409
        if isinstance(error, RolloutError)
        else 400
    )
    title = {404: "Not found", 409: "Not now"}.get(status, "Bad request")
    return render(request, "error.html", session, status, title=title, why=str(error))


@router.get("/rollouts/{flag}/{environment}")
def rollout_page(
    request: Request,
    flag: str,
    environment: str,
    service: Rollouts,
    session: Viewing,
    id: str | None = None,
) -> HTMLResponse:
    try:
        rollout, events = service.status(flag, environment, id)
    except PlanError as error:
        return _problem(request, session, error)
    status = RolloutStatus.model_validate(history.document(service.store, rollout, events))
    offered = [c for c, (_, states) in COMMANDS.items() if status.state in states]
    return render(
        request,
        "rollout.html",
        session,
        title=f"Rollout of {flag} in {environment}",
        rollout=status,
        offered=offered if status.finished_at is None else [],
        commands=COMMANDS,
        charts=[_charts(h) for h in status.history],
        records=_records_links(status),
        twin=f"/api/rollouts/{flag}/{environment}"
        + (f"?{urlencode({'id': status.id})}" if id else ""),
    )


def _charts(guardrail: GuardrailHistory) -> tuple[Markup, Markup] | None:
    """The metric on each arm over time, and the judge's evidence against its boundary."""
    points = guardrail.points
    if not points:
        return None
    moments = [datetime.fromisoformat(p.at) for p in points]
    show = percent if guardrail.kind == "rate" else (lambda v: number(v, 4))
    metric = over_time(
        f"{guardrail.metric} on treatment and control over time",
        moments,
        [
            Line("treatment", [p.treatment for p in points], INK),
            Line("control", [p.control for p in points], MUTED, dashed=True),
        ],
        show,
    )
    evidence = over_time(
        f"The judge's evidence of harm on {guardrail.metric} over time, against the "
        f"{number(guardrail.evidence_needed)} it needs to act",
        moments,
        [Line("evidence", [p.evidence for p in points], INK)],
        lambda v: number(v, 2),
        boundary=(f"acts at {number(guardrail.evidence_needed)}", guardrail.evidence_needed),
        log=True,
    )
    return metric, evidence


def _records_links(status: RolloutStatus) -> dict[str, str] | None:
    """Where a finished rollout's deployments sit in the delivery records and the figures."""
    if status.finished_at is None or not status.delivered:
        return None
    window = {
        "service": status.service,
        "since": status.started_at[:10],
        "until": status.delivered[-1].finished_at[:10],
    }
    return {
        "deployments": f"/records/deployments?{urlencode({**window, 'q': f'rollout/{status.id}'})}",
        "overview": f"/?{urlencode(window)}",
    }


@router.get("/rollouts/{flag}/{environment}/confirm")
def confirm_command(
    request: Request,
    flag: str,
    environment: str,
    service: Rollouts,
    session: Editing,
    action: str = "",
) -> HTMLResponse:
    if action not in COMMANDS:
        why = f"action must be one of {', '.join(COMMANDS)}, not {action!r}"
        return render(request, "error.html", session, 400, title="Bad request", why=why)
    try:
        rollout, _ = service.status(flag, environment)
    except PlanError as error:
        return _problem(request, session, error)
    return render(
        request,
        "rollout_confirm.html",
        session,
        title=f"Confirm: {action} the rollout of {flag}",
        rollout=RolloutResult.model_validate(rollout.as_dict()),
        action=action,
        what=COMMANDS[action][0],
    )


@router.post("/rollouts/{flag}/{environment}/{action}")
def command(
    request: Request, flag: str, environment: str, action: str, service: Rollouts, form: Command
) -> Response:
    may_change(form.session, environment)
    actor, reason = form.session.actor, form.get("reason")
    try:
        if action == "pause":
            service.pause(flag, environment, actor=actor, reason=reason)
        elif action == "resume":
            service.resume(flag, environment, actor=actor)
        elif action == "rollback":
            service.rollback(flag, environment, actor=actor, reason=reason)
        else:
            why = f"action must be one of {', '.join(COMMANDS)}, not {action!r}"
            return render(request, "error.html", form.session, 400, title="Bad request", why=why)
    except PlanError as error:
        return _problem(request, form.session, error)
    return RedirectResponse(f"/rollouts/{flag}/{environment}", status_code=303)
