"""People who sign in with single sign-on, for admins: who has which role, from where, in
which scope; granting a role, changing it, removing someone behind a confirmation page.
Through `headway.flags.users.UserService`, as `/api/users` (the page's JSON twin) and
`headway users`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headway.flags.model import ConfigError
from headway.flags.service import NotFound
from headway.flags.users import ROLES, UserService
from headway.web.render import Posted, posted, render, signed_in
from headway.web.session import Session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Admin = Annotated[Session, Depends(signed_in("admin"))]
AdminForm = Annotated[Posted, Depends(posted("admin"))]


def _users(request: Request) -> UserService:
    users: UserService = request.app.state.users
    return users


Users = Annotated[UserService, Depends(_users)]


def _names(text: str) -> list[str] | None:
    """A form's comma-separated names; blank means every one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names or None


def _page(
    request: Request, users: UserService, session: Session, status: int = 200, **context: object
) -> HTMLResponse:
    settings = request.app.state.settings
    return render(
        request,
        "users.html",
        session,
        status,
        title="Users",
        users=users.list(),
        roles=ROLES,
        sso=settings.oidc_enabled,
        mapped=settings.oidc_roles,
        **context,
    )


@router.get("/users")
def user_list(request: Request, users: Users, session: Admin) -> HTMLResponse:
    return _page(request, users, session)


@router.post("/users")
def add_user(request: Request, users: Users, form: AdminForm) -> Response:
    asked = {k: form.get(k) for k in ("email", "role", "teams", "environments")}
    try:
        users.add(
            asked["email"],
            asked["role"],
            actor=form.session.actor,
            teams=_names(asked["teams"]),
            environments=_names(asked["environments"]),
        )
    except ConfigError as error:
        problems = {i.path: i.message for i in error.issues}
        return _page(request, users, form.session, 422, problems=problems, asked=asked)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{email}/role")
def set_role(request: Request, email: str, users: Users, form: AdminForm) -> Response:
    role = form.get("role")
    try:
        users.set_role(
            email,
            None if role == "groups" else role,
            actor=form.session.actor,
            teams=_names(form.get("teams")),
            environments=_names(form.get("environments")),
        )
    except (ConfigError, NotFound) as error:
        why = (
            "; ".join(f"{i.path}: {i.message}" for i in error.issues)
            if isinstance(error, ConfigError)
            else str(error)
        )
        status = 422 if isinstance(error, ConfigError) else 404
        return render(request, "error.html", form.session, status, title="Not changed", why=why)
    return RedirectResponse("/users", status_code=303)


@router.get("/users/{email}/remove")
def confirm_remove(request: Request, email: str, users: Users, session: Admin) -> Response:
    found = next((u for u in users.list() if u.email == email), None)
    if found is None:
        why = f"no user {email!r}; the users page lists them"
        return render(request, "error.html", session, 404, title="Not found", why=why)
    return render(request, "user_remove.html", session, title=f"Remove {email}?", user=found)


@router.post("/users/{email}/remove")
def remove(request: Request, email: str, users: Users, form: AdminForm) -> Response:
    try:
        users.remove(email, actor=form.session.actor)
    except (ConfigError, NotFound) as error:
        return render(request, "error.html", form.session, 404, title="Not found", why=str(error))
    return RedirectResponse("/users", status_code=303)
