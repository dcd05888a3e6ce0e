"""Drive Berth with the official Python MCP SDK (mcp 2.x), one scenario per run.

Usage: python scenarios.py URL TOKEN MODE SCENARIO
  MODE      legacy | 2026-07-28
  SCENARIO  basics | counter | instance | progress | concurrent_progress |
            sampling | elicitation | concurrent | listen | logging | shared_input

`listen` also reads BERTH_OTHER_TOKEN (optional): another principal's token,
whose tool-list changes must not reach this principal's listen stream.

Prints ONE JSON line of observations on stdout and exits 0, or prints the
error on stderr and exits 1. The Rust tests in tests/tests/python_sdk.rs
assert on these observations; this script only observes, it judges nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
import warnings
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import mcp_types as types
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

# set_logging_level is deprecated at 2026-07-28 but is the legacy era's switch.
warnings.simplefilter("ignore")

SAMPLED_TEXT = "sampled-by-python-callback"
ELICITED = {"username": "py-user", "email": "py@example.com"}
CONCURRENT_CALLS = 10


class Ctx:
    """What every scenario gets: where to connect and how to build clients."""

    def __init__(self, url: str, token: str, mode: str) -> None:
        self.url = url
        self.token = token
        self.mode = mode

    def client(self, token: str | None = None, **kwargs: Any) -> Client:
        """A Client over Streamable HTTP with a bearer token (default: this run's), in this run's mode."""
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token or self.token}"})
        transport: AbstractAsyncContextManager[Any] = streamable_http_client(self.url, http_client=http)
        return Client(transport, mode=self.mode, **kwargs)


def text_of(result: types.CallToolResult) -> str:
    """The text of a tool result's first content block (raises on an error result)."""
    if result.is_error:
        raise RuntimeError(f"tool returned isError: {result.content}")
    first = result.content[0]
    if not isinstance(first, types.TextContent):
        raise RuntimeError(f"first content block is not text: {first}")
    return first.text


async def basics(ctx: Ctx) -> dict[str, Any]:
    async with ctx.client() as c:
        tools = await c.list_tools()
        echo = text_of(await c.call_tool("echo", {"text": "hello from python"}))
        counter = [text_of(await c.call_tool("counter_increment", {})) for _ in range(3)]
        return {
            "protocol_version": c.protocol_version,
            "tools": sorted(t.name for t in tools.tools),
            "echo": echo,
            "counter": counter,
        }


async def counter(ctx: Ctx) -> dict[str, Any]:
    """One client: counter_increment once (the hosting session's state shows in the value)."""
    async with ctx.client() as c:
        return {"counter": text_of(await c.call_tool("counter_increment", {}))}


async def instance(ctx: Ctx) -> dict[str, Any]:
    async with ctx.client() as c:
        result = await c.call_tool("instance_info", {})
        return {"instance": json.loads(text_of(result))}


async def progress(ctx: Ctx) -> dict[str, Any]:
    events: list[str] = []
    values: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        events.append("progress")
        values.append(value)

    async with ctx.client() as c:
        result = await c.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        events.append("result")
        # Give a late (misrouted) notification a chance to show up after the result.
        await c.call_tool("echo", {"text": "after"})
        await asyncio.sleep(0.2)
        return {
            "text": text_of(result),
            "progress_count": len(values),
            "progress_values": values,
            "progress_before_result": bool(values) and events[-1] == "result",
        }


async def concurrent_progress(ctx: Ctx) -> dict[str, Any]:
    """Rounds of eight concurrent progress calls on one client: each sees only its own notifications."""

    async def one(c: Client) -> list[float]:
        values: list[float] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            values.append(value)

        text_of(await c.call_tool("test_tool_with_progress", {}, progress_callback=on_progress))
        return values

    async with ctx.client() as c:
        await c.list_tools()  # warm: the instance is up, so the calls really overlap
        per_call: list[list[float]] = []
        for _ in range(3):
            per_call += await asyncio.gather(*(one(c) for _ in range(8)))
        return {"per_call": per_call}


async def sampling(ctx: Ctx) -> dict[str, Any]:
    asked: list[str] = []

    async def on_sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        for m in params.messages:
            if isinstance(m.content, types.TextContent):
                asked.append(m.content.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLED_TEXT),
            model="python-test-model",
            stop_reason="endTurn",
        )

    async with ctx.client(sampling_callback=on_sampling) as c:
        result = await c.call_tool("test_sampling", {"prompt": "What is 2+2?"})
        return {"text": text_of(result), "callback_calls": len(asked), "asked": asked, "sampled": SAMPLED_TEXT}


async def elicitation(ctx: Ctx) -> dict[str, Any]:
    messages: list[str] = []

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        messages.append(params.message)
        return types.ElicitResult(action="accept", content=dict(ELICITED))

    async with ctx.client(elicitation_callback=on_elicit) as c:
        result = await c.call_tool("test_elicitation", {"message": "Who are you?"})
        return {"text": text_of(result), "callback_calls": len(messages), "messages": messages}


async def concurrent(ctx: Ctx) -> dict[str, Any]:
    async with ctx.client() as c:
        texts = [f"concurrent-{i}-{'x' * i}" for i in range(CONCURRENT_CALLS)]

        async def one(i: int) -> str:
            # A short sleep first on odd calls, so answers come back out of order.
            if i % 2:
                await c.call_tool("sleep_ms", {"ms": 30})
            return text_of(await c.call_tool("echo", {"text": texts[i]}))

        answers = await asyncio.gather(*(one(i) for i in range(CONCURRENT_CALLS)))
        return {
            "sent": texts,
            "answers": list(answers),
            "matched": sum(1 for s, a in zip(texts, answers, strict=True) if s == a),
        }


async def listen(ctx: Ctx) -> dict[str, Any]:
    if ctx.mode == "legacy":
        raise RuntimeError("listen needs MODE 2026-07-28")
    other_token = os.environ.get("BERTH_OTHER_TOKEN")
    async with ctx.client() as listener, ctx.client() as trigger:
        async with listener.listen(tools_list_changed=True) as sub:
            honored = sub.honored.model_dump(by_alias=True, exclude_none=True) if sub.honored else None
            events: list[str] = []

            async def collect() -> None:
                async for event in sub:
                    events.append(type(event).__name__)

            collector = asyncio.create_task(collect())
            others = []
            if other_token:
                # Another principal's instance changes its tools twice: not our news.
                async with ctx.client(token=other_token) as other:
                    others = [text_of(await other.call_tool("test_trigger_tool_change", {})) for _ in range(2)]
                await asyncio.sleep(0.5)
            events_before_own_trigger = list(events)
            toggled = text_of(await trigger.call_tool("test_trigger_tool_change", {}))
            for _ in range(50):
                if len(events) > len(events_before_own_trigger):
                    break
                await asyncio.sleep(0.1)
            collector.cancel()
            tools_after = sorted(t.name for t in (await listener.list_tools(cache_mode="refresh")).tools)
        # Toggle back so the hosting session's tool list is as it was.
        restored = text_of(await trigger.call_tool("test_trigger_tool_change", {}))
        return {
            "honored": honored,
            "events_before_own_trigger": events_before_own_trigger,
            "events": events[len(events_before_own_trigger) :],
            "other_triggers": others,
            "toggled": toggled,
            "restored": restored,
            "tools_after": tools_after,
        }


async def shared_input(ctx: Ctx) -> dict[str, Any]:
    """Two clients of one principal: X answers a two-step elicitation while Y, which
    declared no callbacks, has a slow call running. X's second question belongs to X."""
    async with ctx.client() as y:
        y_call: asyncio.Task[types.CallToolResult] | None = None

        async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            nonlocal y_call
            if y_call is None:
                y_call = asyncio.create_task(y.call_tool("sleep_ms", {"ms": 1500}))
                await asyncio.sleep(0.3)  # Y's call is now running at the server
                return types.ElicitResult(action="accept", content={"name": "Ann"})
            return types.ElicitResult(action="accept", content={"color": "blue"})

        async with ctx.client(elicitation_callback=on_elicit) as x:
            out: dict[str, Any] = {}
            for who, run in (
                ("x", lambda: x.call_tool("test_input_required_result_multi_round", {})),
                ("y", lambda: y_call),
            ):
                try:
                    out[who] = text_of(await run())
                except Exception as e:  # noqa: BLE001 - the failure is the observation
                    out[who] = f"error: {e!r}"
            return out


async def logging(ctx: Ctx) -> dict[str, Any]:
    async def run(level: types.LoggingLevel | None) -> dict[str, Any]:
        logs: list[dict[str, Any]] = []

        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            logs.append({"level": params.level, "data": params.data})

        async with ctx.client(logging_callback=on_log, log_level=level) as c:
            if ctx.mode == "legacy" and level is not None:
                await c.set_logging_level(level)
            text = text_of(await c.call_tool("test_tool_with_logging", {}))
            return {"text": text, "count": len(logs), "logs": logs}

    out: dict[str, Any] = {"default": await run(None)}
    out["debug"] = await run("debug")
    out["error"] = await run("error")
    return out


SCENARIOS: dict[str, Callable[[Ctx], Awaitable[dict[str, Any]]]] = {
    "basics": basics,
    "counter": counter,
    "instance": instance,
    "progress": progress,
    "concurrent_progress": concurrent_progress,
    "sampling": sampling,
    "elicitation": elicitation,
    "concurrent": concurrent,
    "listen": listen,
    "logging": logging,
    "shared_input": shared_input,
}


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[3] not in ("legacy", "2026-07-28") or argv[4] not in SCENARIOS:
        print(__doc__, file=sys.stderr)
        return 2
    _, url, token, mode, name = argv
    try:
        observed = asyncio.run(asyncio.wait_for(SCENARIOS[name](Ctx(url, token, mode)), timeout=60))
    except BaseException as e:  # noqa: BLE001 - report everything, including ExceptionGroups
        print(f"scenario {name} ({mode}) failed: {e!r}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return 1
    print(json.dumps(observed, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
