"""The ``google-new`` Places provider: Places API (New) Nearby Search,
mapped onto the legacy shape (src/places/google_new.rs, whose doc comment
holds the mapping table).

``POST URL`` with the compact body
``{"locationRestriction":{"circle":{"center":{"latitude":LAT,"longitude":LNG},"radius":METRES}},"maxResultCount":BOUND}``,
the key in ``X-Goog-Api-Key`` (never in the URL) and ``FIELD_MASK`` in
``X-Goog-FieldMask``. HTTP errors with Google's envelope become a legacy
status (400 -> INVALID_REQUEST, or REQUEST_DENIED for an ``API_KEY_*``
reason; 401/403 -> REQUEST_DENIED; 429 -> OVER_QUERY_LIMIT; else
UNKNOWN_ERROR) with ``Places API (New) answered 403 PERMISSION_DENIED: <msg>``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import unicodedata

from . import NearbyQuery, PlacesError
from .http import BODY, CONNECT, Session, describe, read_body, rust_f64, safe_word
from .json_format import RawNumber, loads

NEW_URL = "https://places.googleapis.com/v1/places:searchNearby"
FIELD_MASK = (
    "places.id,places.displayName,places.location,places.viewport,"
    "places.types,places.businessStatus,places.shortFormattedAddress,"
    "places.plusCode,places.iconMaskBaseUri,places.iconBackgroundColor"
)
MESSAGE_LIMIT = 1000
log = logging.getLogger("herd.places.google_new")


def usable_key(key: str) -> bool:
    return bool(key) and all(0x21 <= ord(c) <= 0x7E for c in key)


class GoogleNew:
    def __init__(self, url: str, key: str, timeout_ms: int) -> None:
        self.url = url or NEW_URL
        self._key = key
        self.timeout_ms = timeout_ms
        self.session = Session(timeout_ms)

    def __repr__(self) -> str:
        return f"GoogleNew(url={self.url!r}, key=<redacted>, timeout_ms={self.timeout_ms})"

    async def close(self) -> None:
        await self.session.close()

    async def nearby(self, query: NearbyQuery):
        if not usable_key(self._key):
            raise _fail("the API key holds characters an HTTP header cannot carry")
        body = request_body(query)
        headers = {
            "Content-Type": "application/json",
            "X-Goog-Api-Key": self._key,
            "X-Goog-FieldMask": FIELD_MASK,
        }
        phase = CONNECT
        answer: bytes | None = None
        body_error: str | None = None
        try:
            async with asyncio.timeout(self.timeout_ms / 1000):
                async with self.session.get().post(
                    self.url, data=body.encode(), headers=headers, allow_redirects=False
                ) as response:
                    status = response.status
                    phase = BODY
                    try:
                        answer = await read_body(response)
                    except Exception as error:  # noqa: BLE001
                        body_error = describe(error, BODY, self.timeout_ms)
        except Exception as error:  # noqa: BLE001 - every failure is an answer
            raise _fail(describe(error, phase, self.timeout_ms)) from None
        if status != 200:
            # An error body that cannot be read still leaves the status.
            error = error_from_answer(status, answer or b"", self._key)
            log.warning("google-new places: %s", error.message)
            raise error
        if body_error is not None:
            raise _fail(body_error)
        try:
            value = loads(answer or b"")
        except ValueError:
            raise _fail("Places answered with malformed JSON") from None
        try:
            return to_legacy(value)
        except PlacesError as error:
            log.warning("google-new places: %s", error.message)
            raise


def _fail(message: str) -> PlacesError:
    log.warning("google-new places: %s", message)
    return PlacesError("UNKNOWN_ERROR", message)


def request_body(query: NearbyQuery) -> str:
    if not (math.isfinite(query.lat) and math.isfinite(query.lng)):
        raise _fail("the WHATSAT location or radius is not a number")
    lat, lng = rust_f64(query.lat), rust_f64(query.lng)
    radius = query.radius_m_text
    try:
        if not isinstance(loads(radius.encode()), RawNumber):
            raise ValueError(radius)
    except ValueError:
        if not math.isfinite(query.radius_m):
            raise _fail("the WHATSAT location or radius is not a number") from None
        radius = rust_f64(query.radius_m)
    bound = min(max(query.bound, 1), 20)
    return (
        '{"locationRestriction":{"circle":{"center":{"latitude":%s,'
        '"longitude":%s},"radius":%s}},"maxResultCount":%d}' % (lat, lng, radius, bound)
    )


def error_from_answer(status: int, body: bytes, key: str) -> PlacesError:
    try:
        parsed = loads(body)
    except ValueError:
        parsed = None
    envelope = _envelope(parsed)
    if envelope is None:
        return PlacesError("UNKNOWN_ERROR", f"Places API (New) answered HTTP {status}")
    env_status, env_message, reason = envelope
    message = f"Places API (New) answered {status}"
    # Google's words lose the key before they are filtered or cut: a key cut
    # at the length limit, or stripped of its "-" by safe_word, would no
    # longer match and would be shown in part.
    if env_status is not None:
        word = safe_word(redact(env_status, key))
        if word:
            message += " " + word
    if env_message is not None:
        message += ": " + one_line(redact(env_message, key), MESSAGE_LIMIT)
    return PlacesError(legacy_status(status, reason), redact(message, key))


def _str(value):
    return value if isinstance(value, str) else None


def _envelope(body):
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    status = _str(error.get("status"))
    message = _str(error.get("message"))
    if status is None and message is None:
        return None
    reason = None
    details = error.get("details")
    if isinstance(details, list):
        for detail in details:
            if not isinstance(detail, dict):
                continue
            kind = _str(detail.get("@type"))
            if kind is not None and kind.endswith("google.rpc.ErrorInfo"):
                reason = _str(detail.get("reason"))
                if reason is not None:
                    break
    return status, message, reason


def legacy_status(http_status: int, reason: str | None) -> str:
    if http_status == 400 and reason is not None and reason.startswith("API_KEY_"):
        return "REQUEST_DENIED"
    if http_status == 400:
        return "INVALID_REQUEST"
    if http_status in (401, 403):
        return "REQUEST_DENIED"
    if http_status == 429:
        return "OVER_QUERY_LIMIT"
    return "UNKNOWN_ERROR"


def one_line(text: str, limit: int) -> str:
    out = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text[:limit])
    if len(text) > limit:
        out += "..."
    return out


def redact(text: str, key: str) -> str:
    return text.replace(key, "<redacted>") if key else text


def _malformed(what: str) -> PlacesError:
    return PlacesError("UNKNOWN_ERROR", f"Places API (New) answered with {what}")


def to_legacy(new_answer) -> dict:
    if not isinstance(new_answer, dict):
        raise _malformed("JSON that is not an object")
    places = new_answer.get("places")
    if places is None:
        places = []
    elif not isinstance(places, list):
        raise _malformed('"places" that is not a list')
    results = [legacy_result(place) for place in places]
    return {
        "html_attributions": [],
        "results": results,
        "status": "OK" if results else "ZERO_RESULTS",
    }


def _get(value, key):
    """serde_json's Value::get: None unless ``value`` is an object."""
    return value.get(key) if isinstance(value, dict) else None


def legacy_result(place) -> dict:
    if not isinstance(place, dict):
        raise _malformed("a place that is not an object")
    text = lambda key: _str(place.get(key))  # noqa: E731
    place_id = text("id")
    out: dict = {}

    def put(key, value):
        if value is not None:
            out[key] = value

    business_status = text("businessStatus")
    if business_status == "BUSINESS_STATUS_UNSPECIFIED":
        business_status = None
    put("business_status", business_status)
    put("geometry", _geometry(place))
    put("icon_background_color", text("iconBackgroundColor"))
    put("icon_mask_base_uri", text("iconMaskBaseUri"))
    put("name", _str(_get(place.get("displayName"), "text")))
    put("place_id", place_id)
    put("plus_code", _plus_code(place.get("plusCode")))
    put("reference", place_id)
    put("scope", "GOOGLE")
    put("types", _types(place.get("types")))
    put("vicinity", text("shortFormattedAddress"))
    return out


def _geometry(place: dict):
    geometry = {}
    location = _lat_lng(place.get("location"))
    if location is not None:
        geometry["location"] = location
    viewport = _viewport(place.get("viewport"))
    if viewport is not None:
        geometry["viewport"] = viewport
    return geometry or None


def _viewport(viewport):
    if viewport is None:
        return None
    northeast = _lat_lng(_get(viewport, "high"))
    if northeast is None:
        return None
    southwest = _lat_lng(_get(viewport, "low"))
    if southwest is None:
        return None
    return {"northeast": northeast, "southwest": southwest}


_MISSING = object()


def _lat_lng(point):
    if not isinstance(point, dict):
        return None
    out = {}
    for key, legacy in (("latitude", "lat"), ("longitude", "lng")):
        value = point.get(key, _MISSING)
        if value is _MISSING:
            value = RawNumber("0")  # ProtoJSON leaves out a default 0
        elif not isinstance(value, RawNumber):
            return None
        out[legacy] = value
    return out


def _plus_code(plus_code):
    if plus_code is None:
        return None
    out = {}
    for new_key, legacy_key in (("compoundCode", "compound_code"), ("globalCode", "global_code")):
        code = _str(_get(plus_code, new_key))
        if code is not None:
            out[legacy_key] = code
    return out or None


def _types(types):
    if not isinstance(types, list):
        return None
    return [t for t in types if isinstance(t, str)]
