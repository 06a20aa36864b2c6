from openfeature import api
from openfeature.client import OpenFeatureClient

from headway.sdk.openfeature import HeadwayProvider


def headway_flags(base_url: str, sdk_key: str) -> OpenFeatureClient:
    """An OpenFeature client that evaluates locally, kept current over Headway's stream."""
    api.set_provider_and_wait(HeadwayProvider(url=base_url, sdk_key=sdk_key), "headway")
    return api.get_client("headway")
