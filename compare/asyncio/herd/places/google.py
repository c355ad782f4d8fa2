"""The ``google`` Places provider: Nearby Search (legacy)
(src/places/google.rs).

``GET URL?location=LAT,LNG&radius=METRES&key=KEY``; Google's answer is passed
on as Google wrote it (keys and numbers untouched, via ``json_format.loads``);
errors Google reports in an HTTP 200 body keep Google's status and
``error_message`` (``whatsat_json`` makes the error object). Everything else
(timeout, no connection, HTTP status other than 200, a body too big, cut
short or not JSON) is ``UNKNOWN_ERROR`` with a message in our own words.
"""

from __future__ import annotations

import asyncio
import logging

from yarl import URL

from . import NearbyQuery, PlacesError
from .http import BODY, CONNECT, Session, describe, read_body, rust_f64, safe_word
from .json_format import loads

LEGACY_URL = "https://maps.googleapis.com/maps/api/place/nearbysearch/json"
log = logging.getLogger("herd.places.google")

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def percent_encode(text: str) -> str:
    return "".join(
        chr(b) if b in _UNRESERVED else "%%%02X" % b for b in text.encode("utf-8")
    )


class Google:
    def __init__(self, url: str, key: str, timeout_ms: int) -> None:
        self.url = url or LEGACY_URL
        self._key = key
        self.timeout_ms = timeout_ms
        self.session = Session(timeout_ms)

    def __repr__(self) -> str:
        return f"Google(url={self.url!r}, key=<redacted>, timeout_ms={self.timeout_ms})"

    def request_url(self, query: NearbyQuery) -> str:
        return (
            self.url
            + ("&" if "?" in self.url else "?")
            + "location="
            + percent_encode(rust_f64(query.lat))
            + ","
            + percent_encode(rust_f64(query.lng))
            + "&radius="
            + percent_encode(query.radius_m_text)
            + "&key="
            + percent_encode(self._key)
        )

    async def close(self) -> None:
        await self.session.close()

    async def nearby(self, query: NearbyQuery):
        try:
            url = URL(self.request_url(query), encoded=True)
        except ValueError:
            raise _fail("the configured Places URL is not usable") from None
        phase = CONNECT
        try:
            async with asyncio.timeout(self.timeout_ms / 1000):
                async with self.session.get().get(url, allow_redirects=False) as response:
                    if response.status != 200:
                        raise _fail(f"Places answered HTTP {response.status}")
                    phase = BODY
                    body = await read_body(response)
        except PlacesError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure is an answer
            raise _fail(describe(error, phase, self.timeout_ms)) from None
        try:
            value = loads(body)
        except ValueError:
            raise _fail("Places answered with malformed JSON") from None
        if not isinstance(value, dict):
            raise _fail("Places answered with JSON that is not an object")
        status = value.get("status")
        if isinstance(status, str):
            if status not in ("OK", "ZERO_RESULTS"):
                log.warning("google places: Places answered %s", safe_word(status))
        else:
            log.warning("google places: Places answered without a status")
        return value


def _fail(message: str) -> PlacesError:
    log.warning("google places: %s", message)
    return PlacesError("UNKNOWN_ERROR", message)
