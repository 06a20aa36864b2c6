"""Scheduled flag changes: switch on, switch off, kill, or serve a variant, in one environment,
at a given instant, applied once by whichever server's runner takes it.

A schedule is a row of `flag_schedules` (statements in `headway.store.schedules`), so it
outlives the process that made it, and a time passed while no server ran is caught up at the
next start. A runner takes each due schedule with a conditional UPDATE only one runner wins,
then applies the change through the flag service (version, audit, SDK push) and records the
outcome in the same transaction, on the condition that it still holds the schedule: a change
is committed together with its `applied`, or not at all. A claim left by a runner that
stopped therefore means nothing was applied, and another runner takes it over once it is
older than `LEASE` (docs/decisions.md, "Scheduled flag changes").
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from headway.flags import store as rows
from headway.flags.model import ConfigError, Issue
from headway.flags.results import Action, Schedule
from headway.flags.schedule_time import local_text, parse_instant
from headway.flags.service import Conflict, FlagService, NotFound
from headway.store import Store, StoreUnavailable
from headway.store import schedules as statements

__all__ = [
    "ACTIONS",
    "LEASE",
    "MAX_OPEN_PER_FLAG",
    "MAX_REASON",
    "Action",
    "Schedule",
    "ScheduleService",
]

log = logging.getLogger("headway.flags")

ACTIONS: tuple[str, ...] = get_args(Action)
#: How long a claim holds before another runner may take the schedule over: applying takes
#: milliseconds, so a claim this old belongs to a runner that stopped.
LEASE = timedelta(seconds=60)
#: Schedules waiting on one flag at most: more is a script gone wrong, not a plan.
MAX_OPEN_PER_FLAG = 100
#: The longest reason kept with a schedule (the API refuses longer ones too).
MAX_REASON = 500
# Due schedules taken per tick; the rest wait for the next one.
_BATCH = 100
# A change applied this much after its time says so in the flag's history.
_LATE = timedelta(minutes=1)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _schedule(row: tuple[Any, ...]) -> Schedule:
    doc = dict(zip(statements.COLUMNS, row, strict=True))
    doc["at"] = _aware(doc.pop("run_at"))
    for name in ("created_at", "claimed_at", "finished_at"):
        doc[name] = _aware(doc[name])
    doc["local"] = local_text(doc["at"], doc["zone"])
    return Schedule.model_validate(doc)


class _Overtaken(Exception):
    """Another runner took the schedule over while this one applied it."""


class _Refused(Exception):
    """The change no longer makes sense; the message says why."""


def _runner_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ScheduleService:
    """Schedules on one store: made, listed and cancelled by people; run by `run_due`."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = _utcnow,
        flags: FlagService | None = None,
        lease: timedelta = LEASE,
        runner: str | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.flags = flags or FlagService(store, clock=clock)
        self.lease = lease
        self.runner = runner or _runner_id()

    # -- people -------------------------------------------------------------------------------

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
        """Schedule `action` on flag `key` in `environment` at the instant `at` (in `tz`)."""
        if action not in ACTIONS:
            raise ConfigError(
                [Issue(path="action", message=f"use one of {', '.join(ACTIONS)}, not {action!r}")]
            )
        if action == "serve" and not variant:
            raise ConfigError([Issue(path="variant", message="name the variant to serve")])
        if action != "serve" and variant is not None:
            raise ConfigError(
                [Issue(path="variant", message=f"only `serve` takes a variant, not `{action}`")]
            )
        if reason is not None and len(reason) > MAX_REASON:
            raise ConfigError([Issue(path="reason", message=f"keep it to {MAX_REASON} characters")])
        now = self.clock()
        when = parse_instant(at, tz, now)
        flag = self.flags.require_flag(key)
        if flag.archived:
            raise Conflict(
                f"flag '{key}' is archived; bring it back first (`headway flags archive "
                f"{key} --undo`)"
            )
        if environment not in flag.environments:
            raise NotFound(
                f"flag '{key}' has no environment '{environment}'; it has: "
                f"{', '.join(flag.environments)}"
            )
        known = [v.key for v in flag.variants]
        if variant is not None and variant not in known:
            raise ConfigError(
                [
                    Issue(
                        path="variant",
                        message=f"flag '{key}' has no variant {variant!r}; it has: "
                        f"{', '.join(known)}",
                    )
                ]
            )
        values = {
            "id": uuid.uuid4().hex[:12],
            "flag": key,
            "environment": environment,
            "action": action,
            "variant": variant,
            "run_at": when.at,
            "zone": when.zone,
            "reason": reason or None,
            "state": "pending",
            "created_by": actor,
            "created_at": now,
            "claimed_by": None,
            "claimed_at": None,
            "attempts": 0,
            "finished_at": None,
            "outcome": None,
            "flag_version": None,
        }
        with self.store.transaction() as tx:
            if len(statements.listed(tx, flag=key)) >= MAX_OPEN_PER_FLAG:
                raise Conflict(
                    f"flag '{key}' has {MAX_OPEN_PER_FLAG} schedules waiting already; cancel "
                    "some first (`headway flags schedules` lists them)"
                )
            statements.insert(tx, **values)
            made = self.get(str(values["id"]))
            self._audit(tx, made, actor, "schedule", before=None)
        return made

    def get(self, schedule_id: str) -> Schedule:
        row = statements.one(self.store, schedule_id)
        if row is None:
            raise NotFound(
                f"no schedule '{schedule_id}'; `headway flags schedules --all` lists them"
            )
        return _schedule(row)

    def list_schedules(self, *, finished: bool = False, flag: str | None = None) -> list[Schedule]:
        """Schedules by time: those still to run, or every one with `finished`."""
        if flag is not None:
            self.flags.require_flag(flag)
        return [_schedule(r) for r in statements.listed(self.store, finished=finished, flag=flag)]

    def cancel(self, schedule_id: str, *, actor: str, flag: str | None = None) -> Schedule:
        """Cancel a schedule that has not run (of `flag`, when given)."""
        found = self.get(schedule_id)
        if flag is not None and found.flag != flag:
            raise NotFound(f"flag '{flag}' has no schedule '{schedule_id}'")
        now = self.clock()
        with self.store.transaction() as tx:
            # The audit row first: its head row is the lock every audited change takes first,
            # a runner applying this schedule included, so the two cannot wait on each other.
            outcome = f"cancelled by {actor}"
            after = found.model_copy(
                update={"state": "cancelled", "finished_at": now, "outcome": outcome}
            )
            self._audit(tx, after, actor, "cancel", before=found)
            done = statements.cancel(
                tx,
                schedule_id,
                outcome=outcome,
                now=now,
                stale_before=now - self.lease,
            )
            if not done:
                current = self.get(schedule_id)
                raise Conflict(
                    f"schedule '{schedule_id}' is {current.state}"
                    + (f" ({current.outcome})" if current.outcome else "")
                    + "; only a schedule still waiting can be cancelled"
                )
        return self.get(schedule_id)

    def _audit(
        self, tx: Store, schedule: Schedule, actor: str, action: str, before: Schedule | None
    ) -> None:
        rows.insert_audit(
            tx,
            actor=actor,
            entity="schedule",
            entity_id=schedule.id,
            action=action,
            before=before.model_dump(mode="json") if before else None,
            after=schedule.model_dump(mode="json"),
            at=self.clock(),
        )

    # -- the runner ---------------------------------------------------------------------------

    def run_due(self) -> list[Schedule]:
        """Take and apply every schedule due now that no other runner holds; what each became."""
        now = self.clock()
        done = []
        for schedule_id in statements.due(self.store, now, now - self.lease, _BATCH):
            if statements.claim(self.store, schedule_id, self.runner, now, now - self.lease):
                done.append(self.apply(schedule_id))
        return done

    def apply(self, schedule_id: str) -> Schedule:
        """Apply a schedule this runner has claimed, and record how it went."""
        schedule = self.get(schedule_id)
        now = self.clock()
        try:
            with self.store.transaction():
                version, outcome = self._change(schedule, now)
                if not self._finish(schedule, "applied", outcome, version):
                    raise _Overtaken
        except _Overtaken:
            log.warning(
                "schedule %s was taken over by another runner; not applied here", schedule.id
            )
        except StoreUnavailable:
            raise  # nothing was applied; the claim lapses and a runner takes it again
        except (ConfigError, NotFound, Conflict, _Refused) as error:
            self._finish(schedule, "failed", str(error), None)
        except Exception:
            log.exception("schedule %s could not be applied", schedule.id)
            self._finish(
                schedule, "failed", "an unexpected error; the server's log says which", None
            )
        return self.get(schedule_id)

    def _finish(self, schedule: Schedule, state: str, outcome: str, version: int | None) -> bool:
        return statements.finish(
            self.store,
            schedule.id,
            self.runner,
            state=state,
            outcome=outcome,
            version=version,
            now=self.clock(),
        )

    def _change(self, schedule: Schedule, now: datetime) -> tuple[int, str]:
        """Make the scheduled change through the flag service: (the flag's version, outcome)."""
        key, env = schedule.flag, schedule.environment
        flag = self.flags.get_flag(key)
        if flag is None:
            raise _Refused(f"flag '{key}' no longer exists")
        if flag.archived:
            raise _Refused(
                f"flag '{key}' was archived after this was scheduled; bring it back and "
                "schedule the change again"
            )
        if env not in flag.environments:
            raise _Refused(f"flag '{key}' has no environment '{env}' any more")
        if schedule.action == "on":
            self._not_killed_since(schedule)
        actor = f"schedule:{schedule.id} for {schedule.created_by}"
        comment = f"scheduled by {schedule.created_by} for {schedule.local}"
        if schedule.reason:
            comment += f": {schedule.reason}"
        late = now - schedule.at
        if late > _LATE:
            comment += f" (applied {_duration(late)} late: no server was running the schedule)"
        if schedule.action == "kill":
            changed = self.flags.kill(key, actor=actor, environment=env, reason=comment)
        else:
            fields: dict[str, Any] = (
                {"default": {"variant": schedule.variant}}
                if schedule.action == "serve"
                else {"enabled": schedule.action == "on"}
            )
            action = {"on": "enable", "off": "disable"}.get(schedule.action, "serve")
            changed = self.flags.update_environment(
                key, env, fields, actor=actor, action=action, comment=comment
            )
        if changed.version == flag.version:
            return changed.version, f"nothing to change: version {flag.version} already did this"
        return changed.version, f"applied as version {changed.version}"

    def _not_killed_since(self, schedule: Schedule) -> None:
        """A kill made after the schedule wins over it: whoever killed the flag knew something
        the person who scheduled switching it on did not."""
        for version in reversed(self.flags.history(schedule.flag)):
            if version.created_at <= schedule.created_at:
                return
            if version.action == "kill":
                envs = version.document.get("environments") or {}
                env = envs.get(schedule.environment) if isinstance(envs, dict) else None
                if isinstance(env, dict) and env.get("enabled") is False:
                    raise _Refused(
                        f"flag '{schedule.flag}' was killed in {schedule.environment} at "
                        f"{version.created_at:%Y-%m-%d %H:%M:%S} UTC by {version.actor}, after "
                        "this was scheduled; a kill is not undone by a schedule made before "
                        "it: schedule the change again"
                    )


def _duration(delta: timedelta) -> str:
    """`42 min`, `3 h 5 min`, `4 days`: how late, in the units a person would say."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {rest} min" if rest else "")
    return f"{hours // 24} days"
