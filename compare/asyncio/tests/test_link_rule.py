"""PROTOCOL §3: a neighbour holds one inbound link at a time. A PEER from a
neighbour whose link is open and alive is refused; a dead link is replaced
at once; accepted links get TCP keepalive."""

from __future__ import annotations

import socket
import struct

from conftest import ask, eventually, now_text


def _links_up(herd, node: str, name: str) -> int:
    return sum(1 for line in herd.log_text(node).splitlines() if f"link from {name} (" in line and ") up" in line)


def test_a_live_link_is_not_replaced_by_a_second_peer(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []})
    a, b = herd.addrs["A"], herd.addrs["B"]
    assert eventually(lambda: _links_up(herd, "A", "B") == 1)
    assert ask(a, b"PEER B\n") == b"? PEER B\n"
    assert eventually(lambda: "refused: a link from B is open" in herd.log_text("A"))
    line = next(x for x in herd.log_text("A").splitlines() if "refused: a link from B is open" in x)
    assert " * link from B (127.0.0.1:" in line
    # B's own link still carries its updates, and was not dumped again.
    answer = ask(b, f"IAMAT after-refusal +1+1 {now_text()}\n".encode())
    assert eventually(lambda: ask(a, b"WHATSAT after-refusal 1 1\n").startswith(answer.rstrip(b"\n")))
    assert _links_up(herd, "A", "B") == 1
    assert "replaces the old one" not in herd.log_text("A")


def test_a_closed_old_link_is_replaced_at_once(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []})
    herd.stop("B")  # the test plays B
    a = herd.addrs["A"]
    before = _links_up(herd, "A", "B")
    first = socket.create_connection(a, timeout=5)
    first.sendall(b"PEER B\n")
    assert eventually(lambda: _links_up(herd, "A", "B") == before + 1)
    first.close()
    with socket.create_connection(a, timeout=5) as second:
        second.sendall(f"PEER B\nAT B +0.000000000 via-second +1+1 {now_text()}\n".encode())
        assert eventually(lambda: ask(a, b"WHATSAT via-second 1 1\n").startswith(b"AT B "))
        second.settimeout(0.2)
        try:
            assert second.recv(10) == b"", "nothing is answered on a link"
        except socket.timeout:
            pass
    assert "refused: a link from B is open" not in herd.log_text("A")


def test_liveness_is_a_peek_at_the_old_socket():
    from herd.peer import link_alive

    for how in ("open", "data", "closed", "reset"):
        here, there = socket.socketpair()
        with here, there:
            if how == "data":
                there.sendall(b"AT ...")
            elif how == "closed":
                there.close()
            elif how == "reset":
                tcp_here = socket.create_server(("127.0.0.1", 0))
                out = socket.create_connection(tcp_here.getsockname())
                here.close()
                here, _ = tcp_here.accept()
                tcp_here.close()
                out.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                out.close()
            here.setblocking(False)
            alive = link_alive(here)
            assert alive == (how in ("open", "data")), how
            if how == "data":
                assert here.recv(100) == b"AT ..."  # peeked, not taken


def test_accepted_links_have_tcp_keepalive(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []})
    assert eventually(lambda: "B" in herd.nodes["A"].inbound.open)
    sock = herd.nodes["A"].inbound.open["B"].writer.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 5
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
