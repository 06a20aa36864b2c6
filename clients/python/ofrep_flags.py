from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider


def headway_flags(base_url: str, key: str) -> OpenFeatureClient:
    """An OpenFeature client that evaluates each flag through Headway's OFREP endpoints."""
    provider = OFREPProvider(base_url, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
    api.set_provider_and_wait(provider, "headway-ofrep")
    return api.get_client("headway-ofrep")
