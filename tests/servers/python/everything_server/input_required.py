"""The 2026-07-28 input-required fixtures (SEP-2322): tools and a prompt that ask the client for
input under the fixed keys the conformance suite looks for (`user_name`, `capital_question`,
`client_roots`, `confirm`, `step1`/`step2`, ...).

The SDK's resolvers (see `interactive.py`) name their questions after the resolver
(`module:qualname`), so these fixtures build `InputRequiredResult`s themselves with the SDK's
types, read the answers from `ctx.input_responses` and carry earlier rounds' answers in
`requestState`, which the SDK seals (AES-GCM, `RequestStateSecurity`) on the way out and
verifies on the way back in: a tampered state is refused with -32602 before the tool runs.

In a 2025-era session the same fixtures ask through ordinary server-to-client requests instead
(a step's questions concurrently, each tagged with its key), so a host that bridges the eras
(Berth) can be compared with the server speaking 2026-07-28 natively.
"""

import json
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer, UserMessage
from mcp.shared.message import ServerMessageMetadata
from mcp_types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    RequestParams,
    SamplingMessage,
    TextContent,
)

from .interactive import is_modern

Answers = dict[str, dict[str, Any]]
"""Answers so far, by key, in wire form (`ElicitResult`, `CreateMessageResult`, `ListRootsResult`)."""


class Ask:
    """A step's questions, by key."""

    def __init__(self, requests: dict[str, InputRequest]) -> None:
        self.requests = requests


def _wire(result: Any) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


# `_meta` key naming a legacy server-to-client request's key in the 2026-07-28 form (the Rust
# example server's convention), so a host that turns these requests into an
# `InputRequiredResult` (Berth) can reuse the fixture's keys. Off unless `--berth-input-keys`:
# a server written by anyone else sends no such hint, and that is what the tests hold Berth to.
INPUT_KEY_META = "berth/inputKey"
TAG_INPUT_KEYS = False

RESULT_TYPES: dict[str, type[ElicitResult] | type[CreateMessageResult] | type[ListRootsResult]] = {
    "elicitation/create": ElicitResult,
    "sampling/createMessage": CreateMessageResult,
    "roots/list": ListRootsResult,
}


async def flow(ctx: Context, step: Callable[[Answers], Ask | Any]) -> Any:
    """Runs `step` until it stops asking.

    At 2026-07-28 one round per request: earlier answers come back in `requestState`, new ones
    in `inputResponses`; a step that still asks becomes an `InputRequiredResult`. In a 2025-era
    session a step's questions are sent to the client at once, as concurrent server-to-client
    requests (tagged with their key, `_meta["berth/inputKey"]`, with `--berth-input-keys`),
    until the step stops asking.
    """
    if is_modern(ctx):
        answers: Answers = json.loads(ctx.request_state) if ctx.request_state else {}
        for key, response in (ctx.input_responses or {}).items():
            answers[key] = _wire(response)
        outcome = step(answers)
        if isinstance(outcome, Ask):
            return InputRequiredResult(input_requests=outcome.requests, request_state=json.dumps(answers))
        return outcome
    answers = {}
    while isinstance(outcome := step(answers), Ask):
        async with anyio.create_task_group() as tg:
            for key, request in outcome.requests.items():
                tg.start_soon(_ask_back, ctx, key, request, answers)
    return outcome


async def _ask_back(ctx: Context, key: str, request: InputRequest, answers: Answers) -> None:
    """Sends one question as a server-to-client request on the call's own stream; records the answer."""
    tagged = request
    if TAG_INPUT_KEYS:
        params = (request.params or RequestParams()).model_copy(update={"meta": {INPUT_KEY_META: key}})
        tagged = request.model_copy(update={"params": params})
    metadata = ServerMessageMetadata(related_request_id=ctx.request_id)
    answers[key] = _wire(await ctx.session.send_request(tagged, RESULT_TYPES[request.method], metadata=metadata))


def elicit(message: str, field: str, schema: dict[str, Any]) -> ElicitRequest:
    """A form elicitation asking for one required field."""
    requested = {"type": "object", "properties": {field: schema}, "required": [field]}
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=requested))


def ask_name(message: str = "What is your name?") -> ElicitRequest:
    return elicit(message, "name", {"type": "string"})


def sample(text: str, max_tokens: int) -> CreateMessageRequest:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=text))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


def accepted(answers: Answers, key: str, field: str) -> str | None:
    """The `field` of an accepted elicitation answer, if any."""
    answer = answers.get(key, {})
    content = answer.get("content") if answer.get("action") == "accept" else None
    value = content.get(field) if isinstance(content, dict) else None
    return value if isinstance(value, str) else None


def sampled(answers: Answers, key: str) -> str:
    content = answers.get(key, {}).get("content")
    return content.get("text", "?") if isinstance(content, dict) else "?"


def roots(answers: Answers, key: str) -> list[str]:
    return [str(root.get("uri")) for root in answers.get(key, {}).get("roots", []) if isinstance(root, dict)]


def missing(answers: Answers, requests: dict[str, InputRequest]) -> Ask | None:
    """Asks again for every question not answered yet, or `None` when all are."""
    pending = {key: request for key, request in requests.items() if key not in answers}
    return Ask(pending) if pending else None


async def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Asks for the user's name (key user_name), then greets them."""

    def step(answers: Answers) -> Ask | str:
        name = accepted(answers, "user_name", "name") or "stranger"
        return missing(answers, {"user_name": ask_name()}) or f"Hello, {name}!"

    return await flow(ctx, step)


async def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
    """Asks the client's LLM a question (key capital_question), then reports the answer."""

    def step(answers: Answers) -> Ask | str:
        ask = missing(answers, {"capital_question": sample("What is the capital of France?", 100)})
        return ask or f"The model answered: {sampled(answers, 'capital_question')}"

    return await flow(ctx, step)


async def test_input_required_result_list_roots(ctx: Context) -> str | InputRequiredResult:
    """Asks for the client's roots (key client_roots), then lists them."""

    def step(answers: Answers) -> Ask | str:
        return missing(answers, {"client_roots": ListRootsRequest()}) or "Client roots: " + ", ".join(
            roots(answers, "client_roots")
        )

    return await flow(ctx, step)


async def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
    """Asks for a confirmation (key confirm); answers state-ok once the round trip is done."""

    def step(answers: Answers) -> Ask | str:
        confirm = elicit("Please confirm", "ok", {"type": "boolean"})
        ask = missing(answers, {"confirm": confirm})
        content = answers.get("confirm", {}).get("content") or {}
        return ask or f"state-ok: confirmed={str(content.get('ok') is True).lower()}"

    return await flow(ctx, step)


async def test_input_required_result_multiple_inputs(ctx: Context) -> str | InputRequiredResult:
    """Asks for a name, an LLM greeting and the roots at once."""

    def step(answers: Answers) -> Ask | str:
        ask = missing(
            answers,
            {
                "user_name": ask_name(),
                "greeting": sample("Generate a greeting", 50),
                "client_roots": ListRootsRequest(),
            },
        )
        name = accepted(answers, "user_name", "name") or "stranger"
        listed = ", ".join(roots(answers, "client_roots"))
        return ask or f"name={name}, greeting={sampled(answers, 'greeting')}, roots={listed}"

    return await flow(ctx, step)


async def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
    """Asks for a name (step1), then, in a second round, a favourite colour (step2)."""

    def step(answers: Answers) -> Ask | str:
        if "step1" not in answers:
            return Ask({"step1": ask_name("Step 1: What is your name?")})
        if "step2" not in answers:
            return Ask({"step2": elicit("Step 2: What is your favorite color?", "color", {"type": "string"})})
        name = accepted(answers, "step1", "name") or "stranger"
        return f"{name} likes {accepted(answers, 'step2', 'color') or 'nothing'}"

    return await flow(ctx, step)


async def test_input_required_result_capabilities(ctx: Context) -> str | InputRequiredResult:
    """Asks only through the input capabilities the client declared (elicitation, sampling)."""
    caps = ctx.client_capabilities

    def step(answers: Answers) -> Ask | str:
        wanted: dict[str, InputRequest] = {}
        if caps is not None and caps.elicitation is not None:
            wanted["user_name"] = ask_name()
        if caps is not None and caps.sampling is not None:
            wanted["summary"] = sample("Summarise MCP in one line", 50)
        return missing(answers, wanted) or f"answered through declared capabilities: {sorted(answers)}"

    return await flow(ctx, step)


async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
    """A prompt that first asks the user for context (key user_context)."""

    def step(answers: Answers) -> Ask | list[UserMessage]:
        question = elicit("What context should the prompt use?", "context", {"type": "string"})
        context = accepted(answers, "user_context", "context") or "?"
        return missing(answers, {"user_context": question}) or [UserMessage(f"Use the following context: {context}")]

    return await flow(ctx, step)


def register(mcp: MCPServer) -> None:
    """Registers the input-required tools and prompt on `mcp`."""
    for fn in (
        test_input_required_result_elicitation,
        test_input_required_result_sampling,
        test_input_required_result_list_roots,
        test_input_required_result_request_state,
        test_input_required_result_multiple_inputs,
        test_input_required_result_multi_round,
        test_input_required_result_capabilities,
    ):
        mcp.add_tool(fn)
    mcp.add_tool(
        test_input_required_result_request_state,
        name="test_input_required_result_tampered_state",
        description="Same as test_input_required_result_request_state; the SDK refuses a tampered requestState",
    )
    mcp.prompt()(test_input_required_result_prompt)
