"""Pure protocol tests, no sockets (mirrors src/protocol.rs's unit tests)."""

from herd import protocol as p


def test_separators_are_exactly_the_six_bytes():
    line = "a\x0bb\x0cc\td\re\nf g\xa0h\x1ci\x85j"
    assert p.fields(line) == ["a", "b", "c", "d", "e", "f", "g\xa0h\x1ci\x85j"]
    assert "g\xa0h\x1ci\x85j".split() != ["g\xa0h\x1ci\x85j"]  # why not str.split()
    assert p.is_blank(" \t\r\n\x0b\x0c")
    assert not p.is_blank(" \xa0 ")


def test_times_parse_to_exact_nanoseconds():
    assert p.parse_nanos("1621464827.959498503") == 1_621_464_827_959_498_503
    assert p.parse_nanos("-1.5") == -1_500_000_000
    assert p.parse_nanos("+7") == 7_000_000_000
    assert p.parse_nanos("0.000000001") == 1
    assert p.parse_nanos("00000000000000000000000001") == 1_000_000_000
    for bad in ["", "+", ".5", "5.", "1e9", "inf", "nan", "1.0000000001", "--1", "1.2.3", "٣", "1_0", " 1"]:
        assert p.parse_nanos(bad) is None, bad
    assert p.parse_nanos("99999999999999999999") is not None
    assert p.parse_nanos("100000000000000000000") is None


def test_differences_are_exact_where_floats_are_not():
    client = p.parse_nanos("1621464827.959498503")
    server = 1_621_464_828_223_371_889
    assert p.format_nanos(server - client) == "+0.263873386"
    assert p.format_nanos(client - server) == "-0.263873386"
    assert p.format_nanos(0) == "+0.000000000"
    assert p.format_nanos(-1) == "-0.000000001"
    f = float("1621464828.223371889") - float("1621464827.959498503")
    assert f"{f:.9f}" != "0.263873386"


def test_locations_are_checked_on_their_digits():
    assert p.parse_location("+34.068930-118.445127") == p.Location(34.068930, -118.445127)
    assert p.parse_location("+90-180") is not None
    assert p.parse_location("-90.000+180.0") is not None
    assert p.parse_location("+0+0") is not None
    assert p.parse_location("+034.5-0118") is not None
    for bad in [
        "34.068930-118.445127", "+34.068930", "+90.0000000000000001+0", "+0+180.1", "+91+0",
        "+34.-118", "+.5-118", "+34.1-118.2+3", "+34,1-118", "+1e1+2", "++1+2", "+٣+1", "",
    ]:
        assert p.parse_location(bad) is None, bad


def test_radius_becomes_exact_metres():
    def metres(text):
        r = p.parse_radius(text)
        return r.metres_text if r else None

    assert metres("10") == "10000"
    assert metres("1.2345") == "1234.5"
    assert metres("2.5005") == "2500.5"
    assert metres("0.0005") == "0.5"
    assert metres("050.000") == "50000"
    assert metres("0.001") == "1"
    for bad in ["0", "0.000", "50.0001", "51", "-1", "+1", "1e1", ".5", "5.", "", "1.2.3"]:
        assert p.parse_radius(bad) is None, bad


def test_bounds_are_whole_numbers_from_1_to_20():
    assert p.parse_bound("1") == 1
    assert p.parse_bound("020") == 20
    assert p.parse_bound("05") == 5
    for bad in ["0", "21", "-1", "+5", "5.0", "", "100000000000000000000005", "²"]:
        assert p.parse_bound(bad) is None, bad


def test_requests_parse_by_field_count():
    r = p.parse("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503")
    assert isinstance(r, p.IAmAt) and r.client == "kiwi.cs.ucla.edu"
    assert isinstance(p.parse("\x0bWHATSAT\x0bkiwi 10 5\r"), p.WhatsAt)
    assert p.parse("   ") is p.BLANK
    assert p.parse("PEER Clark") == p.Peer("Clark")
    for bad in ["IAMAT a +1+1", "IAMAT a +1+1 1 extra", "iamat a +1+1 1", "WHATSAT a 10", "HELLO"]:
        assert p.parse(bad) is p.INVALID, bad
    at = "AT Clark +0.263873386 kiwi +34.068930-118.445127 1621464827.959498503"
    parsed = p.parse(at.replace(" ", "\t "))
    assert isinstance(parsed, p.AtLine)
    assert parsed.canonical() == at
    assert p.parse("AT Clark +0.26 kiwi +1+1 1") is p.INVALID


def test_random_lines_never_fail():
    pieces = ["IAMAT", "WHATSAT", "AT", "PEER", " ", "\x0b", "\t", "+", "-", ".", "0", "1", "9",
              "34", "118", "90", "180", "50", "20", "1621464827", "e", "\xa0", "é", "x"]
    seed = 0x2545F4914F6CDD1D
    mask = 2**64 - 1
    for _ in range(20_000):
        seed = (seed * 6364136223846793005 + 1) & mask
        line = ""
        for _ in range((seed >> 60) + 1):
            seed = (seed * 6364136223846793005 + 1) & mask
            line += pieces[(seed >> 33) % len(pieces)]
        r = p.parse(line)
        if isinstance(r, p.AtLine):
            assert isinstance(p.parse(r.canonical()), p.AtLine), repr(line)
