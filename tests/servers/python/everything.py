"""An MCP server with every conformance fixture, built on the official Python SDK (`mcp` 2.3.0).

Usage:
    python everything.py                       # stdio
    python everything.py --http HOST:PORT      # Streamable HTTP at http://HOST:PORT/mcp
    python everything.py [--http HOST:PORT] --legacy-only

What this SDK version speaks:
- the initialize handshake (sessions) at 2024-11-05, 2025-03-26, 2025-06-18 and 2025-11-25
  (`mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS`; it counter-offers 2025-11-25);
- the stateless 2026-07-28 protocol (`MODERN_PROTOCOL_VERSIONS`): per-request `_meta`,
  `server/discover`, `InputRequiredResult` with a sealed `requestState`, `subscriptions/listen`,
  `ttlMs`/`cacheScope`, -32021 for undeclared client capabilities.
Both at once by default: over stdio the client's first request picks the era of the connection
(`Server.run` -> `serve_dual_era_loop`); over HTTP each request is routed by its
`MCP-Protocol-Version` header (a 2026-07-28 value goes to the stateless entry, anything else to
the session manager).

`--legacy-only` makes the server speak only the handshake era. The SDK has no switch for that,
so it uses what the SDK offers closest to one:
- stdio: the handshake-only loop (`mcp.server.runner.serve_loop`, what the HTTP session manager
  runs per session) instead of the dual-era loop, so `server/discover` is -32601 and enveloped
  requests hit the initialize gate, as on a 2025-only server;
- HTTP: a request whose `MCP-Protocol-Version` header is not a handshake version is answered
  400 "Unsupported protocol version" (the 2025-era Streamable HTTP rule) before it reaches the
  SDK's 2026-07-28 entry; everything else is the SDK's session manager, unchanged.

Run it with the Python that has the SDK (scripts/test installs it; `BERTH_TEST_PYTHON`).
"""

import argparse
import json
import sys
from pathlib import Path

import anyio
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from everything_server import build, input_required  # noqa: E402
from everything_server.events import InMemoryEventStore  # noqa: E402
from mcp.server import NotificationOptions  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402
from mcp.server.runner import serve_loop  # noqa: E402
from mcp.server.stdio import stdio_server  # noqa: E402
from mcp_types import INVALID_REQUEST  # noqa: E402
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

# Suggested SSE reconnection delay (SEP-1699 priming events), in milliseconds.
RETRY_INTERVAL_MS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", metavar="HOST:PORT", help="serve Streamable HTTP at http://HOST:PORT/mcp")
    parser.add_argument("--legacy-only", action="store_true", help="speak only the 2025-era handshake protocol")
    parser.add_argument(
        "--berth-input-keys",
        action="store_true",
        help="tag 2025-era input requests with Berth's _meta['berth/inputKey'] hint (off: as any SDK server)",
    )
    args = parser.parse_args()
    input_required.TAG_INPUT_KEYS = args.berth_input_keys
    mcp = build()
    if args.http:
        host, _, port = args.http.rpartition(":")
        anyio.run(serve_http, mcp, host or "127.0.0.1", int(port), args.legacy_only)
    else:
        anyio.run(serve_stdio, mcp, args.legacy_only)


async def serve_stdio(mcp: MCPServer, legacy_only: bool) -> None:
    """`MCPServer.run("stdio")`, plus `listChanged` in the handshake capabilities.

    The SDK derives `listChanged` from `NotificationOptions`, which only a caller of the
    low-level `Server.run` / `serve_loop` can pass; MCPServer (and the HTTP session manager)
    always advertise `listChanged: false`, although `test_trigger_*_change` do send them.
    """
    lowlevel = mcp._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    options = lowlevel.create_initialization_options(NotificationOptions(prompts_changed=True, tools_changed=True))
    async with stdio_server() as (read_stream, write_stream):
        if not legacy_only:
            await lowlevel.run(read_stream, write_stream, options)
            return
        async with lowlevel.lifespan(lowlevel) as state:
            await serve_loop(lowlevel, read_stream, write_stream, lifespan_state=state, init_options=options)


async def serve_http(mcp: MCPServer, host: str, port: int, legacy_only: bool) -> None:
    # On a loopback host the SDK turns on DNS-rebinding protection (Host and Origin checks).
    app: ASGIApp = mcp.streamable_http_app(
        event_store=InMemoryEventStore(), retry_interval=RETRY_INTERVAL_MS, host=host
    )
    if legacy_only:
        app = HandshakeVersionsOnly(app)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


class HandshakeVersionsOnly:
    """ASGI wrapper refusing requests whose `MCP-Protocol-Version` is not a handshake version."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            requested = headers.get(b"mcp-protocol-version", b"").decode("latin-1")
            if requested and requested not in HANDSHAKE_PROTOCOL_VERSIONS:
                supported = ", ".join(HANDSHAKE_PROTOCOL_VERSIONS)
                message = f"Bad Request: Unsupported protocol version: {requested}. Supported versions: {supported}"
                body = json.dumps(
                    {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


if __name__ == "__main__":
    main()
