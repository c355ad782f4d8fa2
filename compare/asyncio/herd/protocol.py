"""The herd's line protocol as pure text: no sockets, no clocks (src/protocol.rs).

Input is one line as ``str`` (the connection has already checked that it is
UTF-8 and stripped its line ending); output is a request holding validated
operands, or text such as an AT line or a time difference. Everything here
is exact: times are integer nanoseconds (Python ints), degrees and radii are
compared as decimal text, and operands are copied as the client wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass

# The six white-space bytes that separate fields (PROTOCOL §2): space, TAB,
# LF, VT, FF, CR. Not str.split(), which also splits on \x1c-\x1f, \x85,
# NBSP and other Unicode spaces.
SEPARATORS = frozenset(" \t\n\x0b\x0c\r")

# Times with more integer digits than this are refused (see src/protocol.rs).
MAX_TIME_INTEGER_DIGITS = 20
MAX_RADIUS_KM = 50
MAX_BOUND = 20
_DIGITS = frozenset("0123456789")


def is_separator(c: str) -> bool:
    return c in SEPARATORS


def fields(line: str) -> list[str]:
    """Maximal runs of characters other than the six separators."""
    out: list[str] = []
    start = None
    for i, c in enumerate(line):
        if c in SEPARATORS:
            if start is not None:
                out.append(line[start:i])
                start = None
        elif start is None:
            start = i
    if start is not None:
        out.append(line[start:])
    return out


def is_blank(line: str) -> bool:
    return all(c in SEPARATORS for c in line)


def is_digits(text: str) -> bool:
    """One or more ASCII digits (str.isdigit() also takes '٣', '²', ...)."""
    return bool(text) and all(c in _DIGITS for c in text)


def _split_sign(text: str) -> tuple[bool, str]:
    if text[:1] == "-":
        return True, text[1:]
    if text[:1] == "+":
        return False, text[1:]
    return False, text


def parse_nanos(text: str) -> int | None:
    """A client time as integer nanoseconds: optional sign, digits, and
    optionally a point and one to nine digits; at most 20 integer digits
    (leading zeros aside)."""
    negative, unsigned = _split_sign(text)
    if "." in unsigned:
        int_part, frac = unsigned.split(".", 1)
    else:
        int_part, frac = unsigned, None
    if not is_digits(int_part):
        return None
    significant = int_part.lstrip("0")
    if len(significant) > MAX_TIME_INTEGER_DIGITS:
        return None
    nanos = int(significant or "0") * 1_000_000_000
    if frac is not None:
        if not frac or len(frac) > 9 or not is_digits(frac):
            return None
        nanos += int(frac) * 10 ** (9 - len(frac))
    return -nanos if negative else nanos


def format_nanos(nanos: int) -> str:
    """``+0.263873386``: always a sign, exactly nine decimals."""
    sign = "-" if nanos < 0 else "+"
    magnitude = abs(nanos)
    return f"{sign}{magnitude // 1_000_000_000}.{magnitude % 1_000_000_000:09d}"


def decimal_within(text: str, limit: int) -> bool:
    """True when ``text`` ([+-]D+[.D+]) is a well-formed decimal whose
    magnitude is at most ``limit``, decided on the digits, not on a float."""
    _, unsigned = _split_sign(text)
    if "." in unsigned:
        int_part, frac = unsigned.split(".", 1)
    else:
        int_part, frac = unsigned, None
    if not is_digits(int_part) or (frac is not None and not is_digits(frac)):
        return False
    significant = int_part.lstrip("0")
    if len(significant) > 3:
        return False
    whole = int(significant or "0")
    frac_is_zero = frac is None or all(c == "0" for c in frac)
    return whole < limit or (whole == limit and frac_is_zero)


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lng: float


def parse_location(text: str) -> Location | None:
    """``[+-]D+[.D+][+-]D+[.D+]``, latitude within [-90, 90] and longitude
    within [-180, 180] on the decimal text."""
    if text[:1] not in ("+", "-") or not text:
        return None
    second = None
    for i in range(1, len(text)):
        if text[i] in "+-":
            second = i
            break
    if second is None:
        return None
    lat_text, lng_text = text[:second], text[second:]
    if not decimal_within(lat_text, 90) or not decimal_within(lng_text, 180):
        return None
    return Location(float(lat_text), float(lng_text))


@dataclass(frozen=True)
class Radius:
    metres_text: str  # exact decimal text: "10" km -> "10000", "1.2345" -> "1234.5"
    metres: float


def parse_radius(text: str) -> Radius | None:
    """``D+[.D+]`` kilometres, more than 0 and at most 50."""
    if "." in text:
        int_part, frac = text.split(".", 1)
    else:
        int_part, frac = text, ""
    if not is_digits(int_part) or ("." in text and not is_digits(frac)):
        return None
    if not decimal_within(text, MAX_RADIUS_KM) or all(c in "0." for c in text):
        return None
    # Kilometres to metres: move the point three places to the right.
    padded = frac.ljust(3, "0")
    whole = (int_part + padded[:3]).lstrip("0") or "0"
    tail = padded[3:].rstrip("0")
    metres_text = f"{whole}.{tail}" if tail else whole
    return Radius(metres_text, float(metres_text))


def parse_bound(text: str) -> int | None:
    """A whole number from 1 to 20 (digits only; ``05`` is 5)."""
    if not is_digits(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > 2:
        return None
    bound = int(significant or "0")
    return bound if 1 <= bound <= MAX_BOUND else None


def is_diff(text: str) -> bool:
    """A time difference as servers write it: sign, digits, point, nine digits."""
    if text[:1] not in ("+", "-") or not text:
        return False
    unsigned = text[1:]
    if "." not in unsigned:
        return False
    int_part, frac = unsigned.split(".", 1)
    return is_digits(int_part) and len(frac) == 9 and is_digits(frac)


def format_at(server: str, diff: str, client: str, location: str, time: str) -> str:
    return f"AT {server} {diff} {client} {location} {time}"


@dataclass(frozen=True)
class IAmAt:
    client: str
    location_text: str
    location: Location
    time_text: str
    time: int


@dataclass(frozen=True)
class WhatsAt:
    client: str
    radius: Radius
    bound: int


@dataclass(frozen=True)
class AtLine:
    server: str
    diff: str
    client: str
    location_text: str
    location: Location
    time_text: str
    time: int

    def canonical(self) -> str:
        """Fields joined by one space: the form every server stores and floods."""
        return format_at(self.server, self.diff, self.client, self.location_text, self.time_text)


@dataclass(frozen=True)
class Peer:
    name: str


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


BLANK = _Marker("Blank")  # empty or all white space: no answer
INVALID = _Marker("Invalid")  # answered "? " + the line

Request = "IAmAt | WhatsAt | AtLine | Peer | _Marker"


def parse(line: str):
    """One line (already UTF-8, line ending stripped) -> a request."""
    words = fields(line)
    if not words:
        return BLANK
    command, operands = words[0], words[1:7]
    parsed = None
    if command == "IAMAT" and len(operands) == 3:
        parsed = _parse_iamat(*operands)
    elif command == "WHATSAT" and len(operands) == 3:
        parsed = _parse_whatsat(*operands)
    elif command == "AT" and len(operands) == 5:
        parsed = _parse_at(*operands)
    elif command == "PEER" and len(operands) == 1:
        parsed = Peer(operands[0])
    return INVALID if parsed is None else parsed


def _parse_iamat(client: str, location: str, time: str):
    loc = parse_location(location)
    if loc is None:
        return None
    nanos = parse_nanos(time)
    if nanos is None:
        return None
    return IAmAt(client, location, loc, time, nanos)


def _parse_whatsat(client: str, radius: str, bound: str):
    r = parse_radius(radius)
    if r is None:
        return None
    b = parse_bound(bound)
    if b is None:
        return None
    return WhatsAt(client, r, b)


def _parse_at(server: str, diff: str, client: str, location: str, time: str):
    if not is_diff(diff):
        return None
    loc = parse_location(location)
    if loc is None:
        return None
    nanos = parse_nanos(time)
    if nanos is None:
        return None
    return AtLine(server, diff, client, location, loc, time, nanos)
