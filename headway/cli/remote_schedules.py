"""The schedule service of the CLI over a running `headway serve`: the same methods, results
and errors as `ScheduleService`, through the flag API (`/api/flags/{key}/schedules`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from headway.cli.remote import Api
from headway.flags.results import Schedule

__all__ = ["RemoteScheduleService"]


def _part(name: str) -> str:
    """A key or id as one segment of a path, whatever it holds."""
    return quote(name, safe="")


class RemoteScheduleService:
    """The `ScheduleService` methods the CLI uses. The server records the token as the one who
    schedules or cancels."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def create(
        self,
        key: str,
        *,
        environment: str,
        action: str,
        at: str,
        tz: str | None = None,
        variant: str | None = None,
        reason: str | None = None,
        actor: str,
    ) -> Schedule:
        body: dict[str, Any] = {"environment": environment, "action": action, "at": at}
        body.update({k: v for k, v in (("tz", tz), ("variant", variant), ("reason", reason)) if v})
        found = self._api.call("POST", f"/flags/{_part(key)}/schedules", json=body)
        return Schedule.model_validate(found)

    def get(self, schedule_id: str) -> Schedule:
        return Schedule.model_validate(
            self._api.call("GET", f"/flag-schedules/{_part(schedule_id)}")
        )

    def list_schedules(self, *, finished: bool = False, flag: str | None = None) -> list[Schedule]:
        path = f"/flags/{_part(flag)}/schedules" if flag is not None else "/flag-schedules"
        found = self._api.call("GET", path, params={"all": finished})
        return [Schedule.model_validate(s) for s in found]

    def cancel(self, schedule_id: str, *, actor: str, flag: str | None = None) -> Schedule:
        key = flag if flag is not None else self.get(schedule_id).flag
        found = self._api.call("DELETE", f"/flags/{_part(key)}/schedules/{_part(schedule_id)}")
        return Schedule.model_validate(found)
