"""One agent for the chaos test: a legacy session through the balancer,
calling counter_increment in a loop for SECONDS, retrying a call whose
answer was lost (pod killed mid-call) as a well-behaved agent does.

Usage: python chaos_agent.py URL TOKEN SECONDS

Prints ONE JSON line: {"calls", "failed", "retries", "values", "errors",
"slowest_s", "answered_at", "failures"} (slowest_s: the longest call, retries included:
how long a pod's death held up this agent; answered_at: the Unix time of
each successful answer, so the test can measure kill-to-next-answer;
failures: [Unix time, error] of each failed attempt, so a slow failover can
be traced to what the agent saw).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import warnings

import mcp_types as types
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

warnings.simplefilter("ignore")

# 0.5 s apart: long enough to ride out a Redis primary failover.
MAX_ATTEMPTS = 20


async def main(url: str, token: str, seconds: float) -> dict:
    calls = failed = retries = 0
    slowest = 0.0
    values: list[int] = []
    errors: list[str] = []
    answered_at: list[float] = []
    failures: list[list] = []
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with Client(streamable_http_client(url, http_client=http), mode="legacy") as c:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            calls += 1
            began = time.monotonic()
            for attempt in range(MAX_ATTEMPTS):
                try:
                    result = await c.call_tool("counter_increment", {})
                    if result.is_error:
                        raise RuntimeError(f"isError: {result.content}")
                    first = result.content[0]
                    assert isinstance(first, types.TextContent)
                    values.append(int(first.text))
                    answered_at.append(time.time())
                    break
                except Exception as e:  # noqa: BLE001 - any lost answer is retried
                    failures.append([round(time.time(), 4), repr(e)[:200]])
                    if attempt + 1 == MAX_ATTEMPTS:
                        failed += 1
                        errors.append(repr(e)[:300])
                    else:
                        retries += 1
                        await asyncio.sleep(0.5)
            slowest = max(slowest, time.monotonic() - began)
            await asyncio.sleep(0.05)
    return {
        "calls": calls,
        "failed": failed,
        "retries": retries,
        "values": values,
        "errors": errors,
        "slowest_s": round(slowest, 3),
        "answered_at": [round(t, 4) for t in answered_at],
        "failures": failures,
    }


if __name__ == "__main__":
    out = asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    print(json.dumps(out))
