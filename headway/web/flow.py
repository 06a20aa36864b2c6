"""Flow: where a change's lead time goes, stage by stage, for the changes shipped in the
window and for the work still waiting at its end, with the definition's warnings and the
notes people wrote on the scope.

From `headway.metrics.flow.breakdown` and `headway.interpret.notes`, as `GET /api/flow` (the
page's JSON twin). Each bar opens the changes behind it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from headway import answers
from headway.interpret import notes
from headway.interpret.results import NotedFlow
from headway.web.charts import Bar, bars
from headway.web.format import duration, percent
from headway.web.render import Reading, render
from headway.web.store import INPUT_ERRORS, WebStore, refused, unavailable
from headway.web.view import View

__all__ = ["router", "shipped_bars", "waiting_bars"]

router = APIRouter(include_in_schema=False)


def shipped_bars(view: View, doc: NotedFlow) -> list[Bar]:
    """Each stage's median time for the changes shipped, the longest wait marked."""
    changes = view.link(
        "/records/changes", {"only": "shipped", "sort": "lead_time_s", "dir": "desc"}
    )
    return [
        Bar(
            s.label,
            s.median_s,
            f"{duration(s.median_s)} · {percent(s.share)}" if s.n else "no data",
            f"{s.label}: median {duration(s.median_s)}, p75 {duration(s.p75_s)}, "
            f"p90 {duration(s.p90_s)} over {s.n} changes; {percent(s.share)} of lead time",
            changes,
            s.stage == doc.longest_wait,
        )
        for s in doc.stages
    ]


def waiting_bars(view: View, doc: NotedFlow) -> list[Bar]:
    """How many changes wait in each stage at the window's end, and the oldest's age."""
    waiting = view.link("/records/changes", {"only": "unshipped", "sort": "merged_at"})
    return [
        Bar(
            q.label,
            q.changes,
            f"{q.changes} · oldest {duration(q.oldest_s)}" if q.changes else "none",
            f"{q.label}: {q.changes} changes waiting, oldest {duration(q.oldest_s)}"
            + (f" ({q.oldest_change})" if q.oldest_change else ""),
            waiting,
        )
        for q in doc.waiting.stages
    ]


@router.get("/flow")
def flow_page(request: Request, store: WebStore, session: Reading) -> HTMLResponse:
    try:
        view = View.of(request)
        defn, scope, period = view.inputs(store)
        settings = request.app.state.settings
        [found] = answers.flows(settings, store, defn, scope, period, server=True)
        doc = found.to_json()
        noted = NotedFlow.model_validate({**doc, "notes": notes.for_scope(store, scope, period)})
    except INPUT_ERRORS as error:
        return refused(request, session, error)
    except answers.EngineUnavailable as error:
        return unavailable(request, session, error)
    return render(
        request,
        "flow.html",
        session,
        title=f"Flow · {scope.describe()}",
        view=view,
        flow=noted,
        scope=scope,
        shipped=bars("Median time per stage, changes shipped", shipped_bars(view, noted)),
        waiting=bars("Changes waiting per stage", waiting_bars(view, noted)),
        api=view.link("/api/flow"),
        overview=view.link("/"),
    )
