"""Places: the one interface WHATSAT uses to ask "what is near here?"
(src/places/mod.rs).

A provider (``offline``, ``google``, ``google-new``) answers a
``NearbyQuery`` with a legacy Nearby Search object (ordered dicts whose
numbers are ``RawNumber``, the provider's own text) or raises
``PlacesError``; ``whatsat_json`` shapes either into the exact JSON text
that follows the AT line of a WHATSAT answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .json_format import RawNumber, to_google_json


@dataclass(frozen=True)
class NearbyQuery:
    lat: float
    lng: float
    radius_m_text: str  # exact metres: what goes on the wire to Google
    radius_m: float  # the same, for the offline index
    bound: int


class PlacesError(Exception):
    """``status`` a legacy status word; ``message`` safe to show a client
    (never the key nor the request URL)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_object(error: PlacesError) -> dict:
    return {
        "error_message": error.message,
        "html_attributions": [],
        "results": [],
        "status": error.status,
    }


def shape_success(obj, bound: int) -> dict:
    if not isinstance(obj, dict):
        return error_object(
            PlacesError("UNKNOWN_ERROR", "Places answered with JSON that is not an object")
        )
    status = obj.get("status")
    if not isinstance(status, str):
        return error_object(PlacesError("UNKNOWN_ERROR", "Places answered without a status"))
    if status not in ("OK", "ZERO_RESULTS"):
        message = obj.get("error_message")
        if not isinstance(message, str):
            message = f"Places answered {status}"
        return error_object(PlacesError(status, message))
    results = obj.get("results")
    if not isinstance(results, list):
        return error_object(
            PlacesError("UNKNOWN_ERROR", "Places answered without a results list")
        )
    obj["results"] = results[:bound]
    return obj


def squeeze_newlines(text: str) -> str:
    out = []
    previous = ""
    for ch in text:
        if ch == "\n" and previous == "\n":
            continue
        out.append(ch)
        previous = ch
    return "".join(out).rstrip("\n")


async def whatsat_json(places, query: NearbyQuery) -> str:
    return (await whatsat_answer(places, query))[0]


async def whatsat_answer(places, query: NearbyQuery) -> tuple[str, str, int]:
    """The WHATSAT JSON, its status and its number of results (the last
    two for the log's summary entry)."""
    try:
        obj = shape_success(await places.nearby(query), query.bound)
    except PlacesError as error:
        obj = error_object(error)
    results = obj.get("results")
    count = len(results) if isinstance(results, list) else 0
    return squeeze_newlines(to_google_json(obj)), str(obj.get("status")), count


async def from_config(config, api_key: str | None):
    """The provider named by the config; raises ConfigError (never naming
    the key)."""
    from ..config import ConfigError

    if config.provider == "offline":
        from .offline import Offline

        try:
            return Offline()
        except Exception as e:  # noqa: BLE001 - any load failure is a config error
            raise ConfigError(f"offline Places data cannot be loaded: {e}") from None
    key = api_key or None
    if key is None:
        raise ConfigError(
            f'[places] provider "{config.provider}" needs an API key in PLACES_API_KEY'
        )
    if config.provider == "google":
        from .google import LEGACY_URL, Google

        return Google(config.url or LEGACY_URL, key, config.timeout_ms)
    from .google_new import NEW_URL, GoogleNew, usable_key

    if not usable_key(key):
        raise ConfigError(
            '[places] provider "google-new": PLACES_API_KEY holds characters '
            "an HTTP header cannot carry"
        )
    return GoogleNew(config.url or NEW_URL, key, config.timeout_ms)


__all__ = [
    "NearbyQuery",
    "PlacesError",
    "RawNumber",
    "error_object",
    "from_config",
    "shape_success",
    "squeeze_newlines",
    "whatsat_json",
]
