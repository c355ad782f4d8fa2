"""herd, the asyncio build: one event loop serves every client, link and flood.

Module names follow the Rust files of the blocking build (src/*.rs) so that
the two can be read side by side.
"""
