"""A link's stall limit, and the Google providers against a local HTTP stub
(link replacement: test_link_rule.py)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from conftest import ask, eventually, now_text

import pytest

from herd.flood import limit_unacked
from herd.places import NearbyQuery, whatsat_json
from herd.places.google import Google
from herd.places.google_new import FIELD_MASK, GoogleNew


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux only")
def test_an_outgoing_link_bounds_how_long_sent_data_may_stay_unacknowledged():
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=5) as sock:
            def read_back() -> int:
                return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)

            assert read_back() == 0  # the system default
            limit_unacked(sock, 7250)
            assert read_back() == 7250
            limit_unacked(sock, 0)  # never "the system default"
            assert read_back() == 1


class Stub:
    """A one-answer HTTP server on a thread: records requests, answers ``reply``."""

    def __init__(self, status: int, body: bytes, delay: float = 0.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.status, self.body, self.delay = status, body, delay
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest)
                time.sleep(self.delay)
                try:
                    conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n" % (self.status, len(self.body)) + self.body)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


QUERY = NearbyQuery(34.06893, -118.445127, "2500.5", 2500.5, 1)


async def _answer(provider) -> str:
    try:
        return await whatsat_json(provider, QUERY)
    finally:
        await provider.close()


def test_google_legacy_request_and_verbatim_numbers():
    body = (b'{"html_attributions": [], "results": [{"geometry": {"location": {"lat": 34.0736204, '
            b'"lng": -73.97649899999999}}, "name": "A<b>"}, {"name": "second"}], "status": "OK"}')
    stub = Stub(200, body)
    try:
        url = f"http://127.0.0.1:{stub.port}/maps/api/place/nearbysearch/json"
        text = asyncio.run(_answer(Google(url, "k/ey+", 2000)))
    finally:
        stub.close()
    request = stub.requests[0].split(b"\r\n")[0]
    assert request == (b"GET /maps/api/place/nearbysearch/json?location=34.06893,-118.445127"
                       b"&radius=2500.5&key=k%2Fey%2B HTTP/1.1")
    assert '"lng" : -73.97649899999999' in text and "A\\u003cb\\u003e" in text
    assert "second" not in text  # cut to the bound


def test_google_new_request_mapping_and_errors():
    body = (b'{"places": [{"name": "places/X", "id": "X", "types": ["locality"], '
            b'"location": {"latitude": 34.05, "longitude": -118.43}, "displayName": {"text": "W"},'
            b' "shortFormattedAddress": "LA"}]}')
    stub = Stub(200, body)
    try:
        text = asyncio.run(_answer(GoogleNew(f"http://127.0.0.1:{stub.port}/v1/places:searchNearby", "KEY", 2000)))
    finally:
        stub.close()
    raw = stub.requests[0]
    assert raw.startswith(b"POST /v1/places:searchNearby HTTP/1.1")
    assert b"X-Goog-Api-Key: KEY" in raw and b"X-Goog-FieldMask: " + FIELD_MASK.encode() in raw
    assert raw.endswith(b'{"locationRestriction":{"circle":{"center":{"latitude":34.06893,'
                        b'"longitude":-118.445127},"radius":2500.5}},"maxResultCount":1}')
    assert text == (
        '{\n   "html_attributions" : [],\n   "results" : [\n      {\n         "geometry" : {\n'
        '            "location" : {\n               "lat" : 34.05,\n               "lng" : -118.43\n'
        '            }\n         },\n         "name" : "W",\n         "place_id" : "X",\n'
        '         "reference" : "X",\n         "scope" : "GOOGLE",\n         "types" : [\n'
        '            "locality"\n         ],\n         "vicinity" : "LA"\n      }\n   ],\n'
        '   "status" : "OK"\n}'
    )
    denied = Stub(403, b'{"error": {"code": 403, "message": "no KEY here", "status": "PERMISSION_DENIED"}}')
    try:
        text = asyncio.run(_answer(GoogleNew(f"http://127.0.0.1:{denied.port}/v1", "KEY", 2000)))
    finally:
        denied.close()
    assert '"error_message" : "Places API (New) answered 403 PERMISSION_DENIED: no \\u003credacted\\u003e here"' in text
    assert '"status" : "REQUEST_DENIED"' in text


def test_places_timeouts_and_refusals_are_answers():
    slow = Stub(200, b"{}", delay=2.0)
    try:
        started = time.monotonic()
        text = asyncio.run(_answer(Google(f"http://127.0.0.1:{slow.port}/x", "K", 300)))
        assert time.monotonic() - started < 1.5
    finally:
        slow.close()
    assert '"error_message" : "Places did not answer within 300 ms"' in text
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = asyncio.run(_answer(GoogleNew(f"http://127.0.0.1:{port}/x", "K", 1000)))
    assert '"error_message" : "Places could not be reached (connection refused)"' in text
    assert '"status" : "UNKNOWN_ERROR"' in text
