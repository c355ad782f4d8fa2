"""The pure half of authenticated peer links (PROTOCOL §7): nonces, the
proof and welcome HMACs, their constant-time check and the handshake lines.

No I/O here: ``peer.py`` (acceptor) and ``flood.py`` (opener) do the
reading and writing. The secret is bytes and never leaves this module in
any form but an HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .protocol import fields

_NONCE = re.compile(r"[0-9a-fA-F]{32}\Z")
_MAC = re.compile(r"[0-9a-f]{64}\Z")


def new_nonce() -> str:
    """16 bytes from the OS CSPRNG as 32 lowercase hex digits."""
    return secrets.token_hex(16)


def valid_nonce(text: str) -> bool:
    return _NONCE.match(text) is not None


def _mac(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "|".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def proof(secret: bytes, opener: str, acceptor: str, nonce_o: str, nonce_a: str) -> str:
    """What the opener sends after CHALLENGE."""
    return _mac(secret, "herd-peer", opener, acceptor, nonce_o, nonce_a)


def welcome(secret: bytes, acceptor: str, opener: str, nonce_a: str, nonce_o: str) -> str:
    """What the acceptor sends back for a good proof."""
    return _mac(secret, "herd-welcome", acceptor, opener, nonce_a, nonce_o)


def matches(expected: str, received: str) -> bool:
    """Constant-time check; only exactly 64 lowercase hex digits can match."""
    if _MAC.match(received) is None:
        return False
    return hmac.compare_digest(expected.encode("ascii"), received.encode("ascii"))


def hello(text: str) -> tuple[str, str] | None:
    """``PEER <name> <nonce>`` -> (name, nonce) when it has exactly those
    three fields (the nonce not yet checked); anything else -> None."""
    words = fields(text)
    if len(words) == 3 and words[0] == "PEER":
        return words[1], words[2]
    return None


def operand(text: str, word: str) -> str | None:
    """The one operand of ``<word> <operand>`` (CHALLENGE, PROOF, WELCOME),
    or None when the line is anything else."""
    words = fields(text)
    if len(words) == 2 and words[0] == word:
        return words[1]
    return None


def hello_line(name: str, nonce: str) -> str:
    return f"PEER {name} {nonce}"
