"""Berth's Python "everything" server, built on the official MCP Python SDK (PyPI `mcp`).

`build()` returns an `MCPServer` carrying every fixture the official conformance suites exercise
in server mode (see `everything.py` next to this package for the command line):

- `content`: fixed tool results, resources, prompts, completions;
- `interactive`: sampling, form and URL elicitation, roots, the client-capability check, logs,
  progress, SSE stream close, list-changed and resource-updated notifications;
- `input_required`: the 2026-07-28 `InputRequiredResult` fixtures (SEP-2322).
"""

from importlib.metadata import version

from mcp.server import CacheHint
from mcp.server.mcpserver import MCPServer

from . import content, input_required, interactive

SERVER_NAME = "berth-python-everything"

# SEP-2549: results of cacheable methods carry `ttlMs`/`cacheScope` at 2026-07-28.
CACHE_HINTS = {
    method: CacheHint(ttl_ms=0, scope="private")
    for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read")
}


def build() -> MCPServer:
    """A fresh server with every fixture registered."""
    mcp = MCPServer(
        SERVER_NAME,
        version=version("mcp"),
        instructions="Conformance fixtures of Berth's tests, served by the MCP Python SDK.",
        tools=[content.json_schema_tool()],
        cache_hints=CACHE_HINTS,  # type: ignore[arg-type]
        log_level="WARNING",
    )
    content.register(mcp)
    interactive.register(mcp)
    input_required.register(mcp)
    return mcp
