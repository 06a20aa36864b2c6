"""An OpenFeature provider backed by the Headway SDK: local evaluation, streamed updates.

    from openfeature import api
    from headway.sdk.openfeature import HeadwayProvider
    api.set_provider(HeadwayProvider(url="https://headway.example", sdk_key="hws_…"))

Typed resolution checks the flag's type (TYPE_MISMATCH otherwise), results carry Headway's
reason, variant and error code, and every configuration change emits
PROVIDER_CONFIGURATION_CHANGED naming the flags that changed. `client.track(name, ctx,
TrackingEventDetails(value))` goes to the SDK's `track()`, attributed to the served variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, GeneralError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.provider import AbstractProvider, Metadata
from openfeature.track import TrackingEventDetails

from headway.flags.evaluate import Reason
from headway.flags.snapshot import Snapshot
from headway.sdk.client import Client

__all__ = ["HeadwayProvider"]


def _context(ctx: EvaluationContext | None) -> dict[str, Any]:
    if ctx is None:
        return {}
    out = dict(ctx.attributes)
    if ctx.targeting_key:
        out["targetingKey"] = ctx.targeting_key
    return out


def changed_flags(old: Snapshot | None, new: Snapshot) -> list[str]:
    """Keys of flags added, removed or changed between two snapshots."""
    before = old.definitions if old else {}
    keys = set(before) | set(new.definitions)
    return sorted(k for k in keys if before.get(k) != new.definitions.get(k))


class HeadwayProvider(AbstractProvider):
    def __init__(
        self,
        client: Client | None = None,
        *,
        url: str | None = None,
        sdk_key: str | None = None,
        ready_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__()
        self._owns_client = client is None
        self.client = client if client is not None else Client(url, sdk_key, **options)
        self._ready_timeout = ready_timeout

    def get_metadata(self) -> Metadata:
        return Metadata(name="Headway")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        if not self.client.wait_until_ready(self._ready_timeout):
            raise GeneralError(
                f"no flag configuration after {self._ready_timeout:g} s "
                f"({self.client.last_error or 'server not answering'})"
            )
        self.client.add_listener(self._on_change)

    def shutdown(self) -> None:
        self.client.remove_listener(self._on_change)
        if self._owns_client:
            self.client.close()

    def track(
        self,
        tracking_event_name: str,
        evaluation_context: EvaluationContext | None = None,
        tracking_event_details: TrackingEventDetails | None = None,
    ) -> None:
        value = tracking_event_details.value if tracking_event_details else None
        self.client.track(tracking_event_name, value, _context(evaluation_context))

    def _on_change(self, old: Snapshot | None, new: Snapshot) -> None:
        self.emit_provider_configuration_changed(
            ProviderEventDetails(flags_changed=changed_flags(old, new), metadata={"etag": new.etag})
        )

    def _resolve(
        self, key: str, default: Any, ctx: EvaluationContext | None, kind: str
    ) -> FlagResolutionDetails[Any]:
        result = self.client.details(key, default, _context(ctx), kind)
        return FlagResolutionDetails(
            value=result.value,
            error_code=ErrorCode(result.error_code) if result.error_code else None,
            error_message=result.error_message,
            reason=result.reason,
            variant=result.variant,
            flag_metadata={"rule": result.rule} if result.rule else {},
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, "boolean")

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, "string")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        details = self._number(flag_key, default_value, evaluation_context)
        if details.error_code is None:
            if not float(details.value).is_integer():
                return FlagResolutionDetails(
                    default_value,
                    ErrorCode.TYPE_MISMATCH,
                    f"flag '{flag_key}' served {details.value!r}, not an integer",
                    Reason.ERROR,
                )
            details.value = int(details.value)
        return details

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        details = self._number(flag_key, default_value, evaluation_context)
        if details.error_code is None:
            details.value = float(details.value)
        return details

    def _number(
        self, key: str, default: float, ctx: EvaluationContext | None
    ) -> FlagResolutionDetails[Any]:
        return self._resolve(key, default, ctx, "number")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        details = self._resolve(flag_key, default_value, evaluation_context, "json")
        if details.error_code is None and not isinstance(details.value, dict | list):
            return FlagResolutionDetails(
                default_value,
                ErrorCode.TYPE_MISMATCH,
                f"flag '{flag_key}' served {details.value!r}, not an object or list",
                Reason.ERROR,
            )
        return details
