"""Segments: the reusable audiences rules refer to (`in_segment`), listed with the flags that
use them; made, changed (keys always in, keys never in, conditions) and deleted by editors.

As the API's `PUT /api/segments/{key}` and `DELETE /api/segments/{key}` do, through the flag
service's segment commands: a change is checked first (`put_segment(dry_run=True)`) and shown
before → after, then saved when confirmed; a segment changes what every environment serves,
so a session scoped to some environments may not change one. JSON twins: `GET /api/segments`,
`GET /api/segments/{key}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headway.flags.model import SEGMENT_OPERATORS, ConfigError, Flag, Issue, Segment
from headway.flags.service import Conflict, FlagService, NotFound
from headway.web.condition_text import (
    OPERATORS,
    SEGMENT_CONDITION_OPERATORS,
    describe_condition,
)
from headway.web.flags import Flags, missing
from headway.web.problems import Problems, label, place
from headway.web.render import Editing, Posted, Viewing, may_change, posted, render
from headway.web.session import Session
from headway.web.targeting import config_diff
from headway.web.targeting_form import SegmentForm

__all__ = ["router", "users_of"]

router = APIRouter(include_in_schema=False)
Change = Annotated[Posted, Depends(posted("editor"))]


def users_of(flags: list[Flag]) -> dict[str, list[str]]:
    """Which flags (and environments) name each segment in a condition."""
    out: dict[str, list[str]] = {}
    for flag in flags:
        for env_key, env in flag.environments.items():
            for rule in env.rules:
                for cond in rule.conditions:
                    if cond.operator in SEGMENT_OPERATORS:
                        for key in cond.value:
                            where = f"{flag.key} ({env_key})"
                            if where not in out.setdefault(key, []):
                                out[key].append(where)
    return out


def _may_edit(session: Session) -> bool:
    return session.may("editor") and session.may_change(None) is None


@router.get("/segments")
def segment_list(request: Request, service: Flags, session: Viewing) -> HTMLResponse:
    return render(
        request,
        "segments.html",
        session,
        title="Segments",
        segments=service.list_segments(),
        used=users_of(service.list_flags(include_archived=True)),
        describe=describe_condition,
        may_edit=_may_edit(session),
    )


@router.get("/segments/new")
def new_page(request: Request, service: Flags, session: Editing) -> HTMLResponse:
    may_change(session, None)
    return _form(request, service, session, None, SegmentForm())


@router.get("/segments/{key}/edit")
def edit_page(request: Request, key: str, service: Flags, session: Editing) -> HTMLResponse:
    may_change(session, None)
    try:
        segment = service.get_segment(key)
    except NotFound as error:
        return missing(request, session, error)
    return _form(request, service, session, key, SegmentForm.of(segment))


def _form(
    request: Request,
    service: FlagService,
    session: Session,
    key: str | None,
    form: SegmentForm,
    problems: Problems | None = None,
    status: int = 200,
    note: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "segment.html",
        session,
        status,
        title=f"Segment {key}" if key else "New segment",
        key=key,
        form=form,
        problems=problems or Problems(),
        label=label,
        # A segment refers to no segment and no flag: the list leaves those operators out.
        operators={op: w for op, w in OPERATORS.items() if op in SEGMENT_CONDITION_OPERATORS},
        action=f"/segments/{key}/edit" if key else "/segments/new",
        note=note,
    )


@router.post("/segments/new")
def create(request: Request, service: Flags, posted_form: Change) -> Response:
    return _change(request, service, posted_form, None)


@router.post("/segments/{key}/edit")
def change(request: Request, key: str, service: Flags, posted_form: Change) -> Response:
    return _change(request, service, posted_form, key)


def _change(
    request: Request, service: FlagService, posted_form: Posted, key: str | None
) -> Response:
    session = posted_form.session
    may_change(session, None)
    form = SegmentForm.read(posted_form.fields)
    before: Segment | None = None
    if key is not None:
        try:
            before = service.get_segment(key)
        except NotFound as error:
            return missing(request, session, error)
        form.key = key
    op = posted_form.get("op") or "review"
    if op == "edit":
        return _form(request, service, session, key, form)
    if op not in ("review", "save"):
        try:
            form.edit(op)
        except ValueError as error:
            return render(request, "error.html", session, 400, title="Bad request", why=str(error))
        return _form(request, service, session, key, form)
    form.compact()
    document, issues = form.document()
    if key is None and document["key"] and _exists(service, document["key"]):
        message = f"a segment {document['key']!r} exists already: edit it from the list"
        issues.append(Issue(path="key", message=message))
    if not issues:
        try:
            after = service.put_segment(document, actor=session.actor, dry_run=op == "review")
        except ConfigError as error:
            issues = error.issues
    if issues:
        problems = place(issues, form.anchors(), document)
        return _form(request, service, session, key, form, problems, 422)
    if op == "save":
        return RedirectResponse(f"/segments#segment-{after.key}", status_code=303)
    old = before.model_dump(mode="json", exclude={"version"}) if before else {}
    rows = config_diff(old, after.model_dump(mode="json", exclude={"version"}))
    if not rows:
        note = "Nothing to save: the segment is this already."
        return _form(request, service, session, key, form, note=note)
    return render(
        request,
        "change_confirm.html",
        session,
        title=f"Confirm segment {after.key}",
        heading=f"Save segment {after.key}?",
        action=f"/segments/{key}/edit" if key else "/segments/new",
        cancel="/segments",
        fields=form.fields(),
        rows=rows,
        before=_in_words(before),
        after=_in_words(after),
        state="A segment is used in every environment: each flag naming it follows at once.",
        comment=False,
    )


def _exists(service: FlagService, key: str) -> bool:
    try:
        service.get_segment(key)
    except NotFound:
        return False
    return True


def _in_words(segment: Segment | None) -> list[str]:
    if segment is None:
        return ["(none)"]
    conditions = " and ".join(describe_condition(c) for c in segment.conditions)
    return [
        f"Always in: {', '.join(segment.included) or 'nobody listed'}",
        f"Never in: {', '.join(segment.excluded) or 'nobody listed'}",
        f"Otherwise in when: {conditions or 'never (no conditions)'}",
    ]


@router.get("/segments/{key}/delete")
def delete_page(request: Request, key: str, service: Flags, session: Editing) -> HTMLResponse:
    may_change(session, None)
    try:
        segment = service.get_segment(key)
    except NotFound as error:
        return missing(request, session, error)
    users = users_of(service.list_flags(include_archived=True)).get(key, [])
    return render(
        request,
        "segment_delete.html",
        session,
        title=f"Delete segment {key}?",
        segment=segment,
        users=users,
    )


@router.post("/segments/{key}/delete")
def delete(request: Request, key: str, service: Flags, posted_form: Change) -> Response:
    session = posted_form.session
    may_change(session, None)
    try:
        service.delete_segment(key, actor=session.actor)
    except NotFound as error:
        return missing(request, session, error)
    except Conflict as error:
        return render(request, "error.html", session, 409, title="Not deleted", why=str(error))
    return RedirectResponse("/segments", status_code=303)
