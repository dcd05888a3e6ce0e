"""Fixtures that talk back to the client: sampling, form and URL elicitation, roots, the
client-capability check, log messages, progress, SSE stream close (SEP-1699), list-changed and
resource-updated notifications, and the `logging/setLevel` / `resources/(un)subscribe` handlers.

Sampling, form elicitation and roots go through the SDK's resolvers (`Resolve(...)` returning
`Sample`, `Elicit` or `ListRoots`), which follow the negotiated protocol by themselves: a
2025-era session gets a server-to-client request mid-call, a 2026-07-28 request gets an
`InputRequiredResult` and is resumed on retry. They also refuse, with -32021 and
`requiredCapabilities`, a client that did not declare the capability the question needs.

No `from __future__ import annotations` here: the SDK finds `Resolve(...)` markers through
`typing.get_type_hints`, so resolvers and tools live at module level with real annotations.
"""

import uuid
import warnings
from dataclasses import dataclass, field
from typing import Annotated, Literal

import anyio
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import (
    Context,
    Elicit,
    ElicitationResult,
    ListRoots,
    MCPServer,
    Resolve,
    Sample,
)
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    ClientCapabilities,
    CreateMessageResult,
    ElicitationCapability,
    ElicitRequest,
    ElicitRequestURLParams,
    ElicitResult,
    EmptyResult,
    InputRequiredResult,
    ListRootsResult,
    LoggingLevel,
    MissingRequiredClientCapabilityErrorData,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    UnsubscribeRequestParams,
    UrlElicitationCapability,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from .content import WATCHED_URI

# The logging helpers (`ctx.info`, ...) are deprecated at 2026-07-28 but are the 2025 era's API,
# and the SDK itself gates them per request at 2026-07-28 (no log without a `logLevel` opt-in).
warnings.simplefilter("ignore", MCPDeprecationWarning)

LOG_LEVELS: list[LoggingLevel] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
STEP_SECONDS = 0.05


@dataclass
class State:
    """Per-process state: this server is one instance per session under Berth's stdio hosting."""

    revision: int = 0
    subscriptions: set[str] = field(default_factory=set)
    log_level: LoggingLevel = "debug"
    dynamic_tool: bool = False
    dynamic_prompt: bool = False


STATE = State()


def is_modern(ctx: Context) -> bool:
    """True for 2026-07-28 requests (no server-to-client requests, no session notifications)."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


# --- sampling, elicitation, roots (resolvers) ---


class UserInfo(BaseModel):
    """Who you are."""

    # `tools-call-elicitation`'s form.

    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


class Defaults(BaseModel):
    """Please review these values."""

    # `elicitation-sep1034-defaults`: a default for every primitive type.

    name: str = Field("John Doe", description="User's name")
    age: int = Field(30, description="User's age")
    score: float = Field(95.5, description="User's score")
    status: Literal["active", "inactive", "pending"] = Field("active", description="User's status")
    verified: bool = Field(True, description="Whether the user is verified")


def _titled(values: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"const": const, "title": title} for const, title in values]


TITLED_SINGLE = _titled([("value1", "First Option"), ("value2", "Second Option"), ("value3", "Third Option")])
TITLED_MULTI = _titled([("value1", "First Choice"), ("value2", "Second Choice"), ("value3", "Third Choice")])


class Enums(BaseModel):
    """Please pick from each list."""

    # `elicitation-sep1330-enums`: untitled, titled and legacy single-select; untitled and titled
    # multi-select. The field names are the suite's (camelCase on the wire).
    untitledSingle: Literal["option1", "option2", "option3"]
    titledSingle: str = Field(json_schema_extra={"oneOf": TITLED_SINGLE})
    legacyEnum: Literal["opt1", "opt2", "opt3"] = Field(
        json_schema_extra={"enumNames": ["Option One", "Option Two", "Option Three"]}
    )
    untitledMulti: list[Literal["option1", "option2", "option3"]]
    titledMulti: list[str] = Field(json_schema_extra={"items": {"anyOf": TITLED_MULTI}})


class Name(BaseModel):
    """A one-field form: the user's name."""

    name: str = Field(description="Your name")


def ask_llm(prompt: str) -> Sample:
    """Samples the client's LLM with the tool's `prompt` argument."""
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=100)


def ask_llm_hello() -> Sample:
    """Samples the client's LLM with a fixed prompt."""
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text="Say hello"))], max_tokens=20)


def ask_user(message: str) -> Elicit[UserInfo]:
    """Asks for a username and an email, with the tool's `message` argument."""
    return Elicit(message, UserInfo)


def ask_defaults() -> Elicit[Defaults]:
    """Asks the user to review a form whose every field has a default."""
    return Elicit("Please review these values (every field has a default)", Defaults)


def ask_enums() -> Elicit[Enums]:
    """Asks the user to pick from each of the five enum shapes."""
    return Elicit("Please pick from each list", Enums)


def ask_name() -> Elicit[Name]:
    """Asks the user for their name."""
    return Elicit("What is your name?", Name)


def ask_roots() -> ListRoots:
    """Asks the client for its roots."""
    return ListRoots()


def sampled_text(result: CreateMessageResult) -> str:
    content = result.content
    return content.text if isinstance(content, TextContent) else f"<{content.type}>"


def report(label: str, answer: ElicitationResult[BaseModel]) -> str:
    content = answer.data.model_dump_json() if answer.action == "accept" else "{}"
    return f"{label}: action={answer.action}, content={content}"


async def test_sampling(prompt: str, reply: Annotated[CreateMessageResult, Resolve(ask_llm)]) -> str:
    """Asks the client's LLM to complete `prompt` (sampling/createMessage)."""
    return f"LLM response: {sampled_text(reply)}"


async def test_elicitation(message: str, answer: Annotated[ElicitationResult[UserInfo], Resolve(ask_user)]) -> str:
    """Asks the user for a username and an email (elicitation/create, form mode)."""
    return report("User response", answer)


async def test_elicitation_sep1034_defaults(
    answer: Annotated[ElicitationResult[Defaults], Resolve(ask_defaults)],
) -> str:
    """Elicits a form whose every field has a default value (SEP-1034)."""
    return report("Elicitation completed", answer)


async def test_elicitation_sep1330_enums(answer: Annotated[ElicitationResult[Enums], Resolve(ask_enums)]) -> str:
    """Elicits a form with all five enum shapes (SEP-1330)."""
    return report("Elicitation completed", answer)


async def test_streaming_elicitation(answer: Annotated[ElicitationResult[Name], Resolve(ask_name)]) -> str:
    """Asks for the user's name mid-call."""
    return report("Elicitation completed", answer)


async def test_list_roots(roots: Annotated[ListRootsResult, Resolve(ask_roots)]) -> str:
    """Asks the client for its roots (roots/list) and lists their URIs."""
    return "Client roots: " + ", ".join(str(root.uri) for root in roots.roots)


async def test_missing_capability(reply: Annotated[CreateMessageResult, Resolve(ask_llm_hello)]) -> str:
    """Needs sampling: a client that did not declare it gets -32021 (from the SDK's resolver)."""
    return f"LLM response: {sampled_text(reply)}"


async def test_url_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Sends the user to a URL (elicitation/create, URL mode), then reports the action."""
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None or caps.elicitation.url is None:
        required = ClientCapabilities(elicitation=ElicitationCapability(url=UrlElicitationCapability()))
        data = MissingRequiredClientCapabilityErrorData(required_capabilities=required)
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message="This tool requires the client's URL elicitation capability",
            data=data.model_dump(by_alias=True, mode="json", exclude_none=True),
        )
    message = "Please authorize the example service"
    if is_modern(ctx):
        answer = (ctx.input_responses or {}).get("authorization")
        if not isinstance(answer, ElicitResult):
            elicitation_id = uuid.uuid4().hex
            params = ElicitRequestURLParams(
                message=message, url=f"https://example.com/authorize/{elicitation_id}", elicitation_id=elicitation_id
            )
            return InputRequiredResult(input_requests={"authorization": ElicitRequest(params=params)})
        return f"URL elicitation: action={answer.action}"
    elicitation_id = uuid.uuid4().hex
    result = await ctx.elicit_url(message, f"https://example.com/authorize/{elicitation_id}", elicitation_id)
    if result.action == "accept":
        await ctx.session.send_elicit_complete(elicitation_id, related_request_id=ctx.request_id)
    return f"URL elicitation: action={result.action}"


# --- notifications ---


async def test_tool_with_logging(ctx: Context) -> str:
    """Sends three info log messages, 50 ms apart, then returns."""
    for message in ("Tool execution started", "Tool processing data", "Tool execution completed"):
        if LOG_LEVELS.index("info") >= LOG_LEVELS.index(STATE.log_level):
            await ctx.info(message)
        await anyio.sleep(STEP_SECONDS)
    return "Logging test completed"


async def test_tool_with_progress(ctx: Context) -> str:
    """Reports progress 0, 50 and 100 of 100, 50 ms apart, if given a progress token."""
    for progress, message in ((0, "Starting"), (50, "Halfway"), (100, "Done")):
        await ctx.report_progress(progress, 100, message)
        await anyio.sleep(STEP_SECONDS)
    return "Progress test completed"


async def test_reconnection(ctx: Context) -> str:
    """Over HTTP, closes its own SSE stream mid-call (SEP-1699); the client resumes with Last-Event-ID."""
    await ctx.info("Before disconnect")
    await ctx.close_sse_stream()
    await anyio.sleep(0.2)
    await ctx.info("After reconnect")
    return "Reconnection test completed"


def test_dynamic_tool() -> str:
    """Listed only while test_trigger_tool_change has toggled it on."""
    return "the dynamic tool ran"


def test_dynamic_prompt() -> str:
    """Listed only while test_trigger_prompt_change has toggled it on."""
    return "This prompt comes and goes."


def register(mcp: MCPServer) -> None:
    """Registers the interactive tools, the watched resource and the legacy-era handlers on `mcp`."""
    for fn in (
        test_sampling,
        test_elicitation,
        test_elicitation_sep1034_defaults,
        test_elicitation_sep1330_enums,
        test_streaming_elicitation,
        test_list_roots,
        test_missing_capability,
        test_url_elicitation,
        test_tool_with_logging,
        test_tool_with_progress,
        test_reconnection,
    ):
        mcp.add_tool(fn)
    mcp.add_tool(test_tool_with_logging, name="test_logging_tool")

    @mcp.tool()
    async def test_trigger_tool_change(ctx: Context) -> str:
        """Adds or removes test_dynamic_tool and announces the new tool list."""
        STATE.dynamic_tool = not STATE.dynamic_tool
        if STATE.dynamic_tool:
            mcp.add_tool(test_dynamic_tool)
        else:
            mcp.remove_tool("test_dynamic_tool")
        await ctx.notify_tools_changed()
        if not is_modern(ctx):
            await ctx.session.send_tool_list_changed()
        return f"test_dynamic_tool listed: {str(STATE.dynamic_tool).lower()}"

    @mcp.tool()
    async def test_trigger_prompt_change(ctx: Context) -> str:
        """Adds or removes test_dynamic_prompt and announces the new prompt list."""
        STATE.dynamic_prompt = not STATE.dynamic_prompt
        if STATE.dynamic_prompt:
            mcp.add_prompt(Prompt.from_function(test_dynamic_prompt))
        else:
            mcp.remove_prompt("test_dynamic_prompt")
        await ctx.notify_prompts_changed()
        if not is_modern(ctx):
            await ctx.session.send_prompt_list_changed()
        return f"test_dynamic_prompt listed: {str(STATE.dynamic_prompt).lower()}"

    @mcp.tool()
    async def test_trigger_resource_update(ctx: Context) -> str:
        """Changes test://watched-resource and notifies its subscribers."""
        STATE.revision += 1
        await ctx.notify_resource_updated(WATCHED_URI)
        if not is_modern(ctx) and WATCHED_URI in STATE.subscriptions:
            await ctx.session.send_resource_updated(WATCHED_URI)
        return f"{WATCHED_URI} is now at revision {STATE.revision}"

    @mcp.resource(WATCHED_URI, name="watched-resource", mime_type="text/plain")
    def watched_resource() -> str:
        """A resource that changes when test_trigger_resource_update runs (subscribe to it)."""
        return f"Watched resource content (revision {STATE.revision})"

    # MCPServer has no public API for these three legacy-era methods (the SDK's own
    # everything-server registers them the same way); the low-level server's
    # `add_request_handler` is public, only the attribute holding it is not.
    lowlevel = mcp._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, _set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, _subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, _unsubscribe)


async def _set_level(ctx: ServerRequestContext, params: SetLevelRequestParams) -> EmptyResult:
    STATE.log_level = params.level
    return EmptyResult()


async def _subscribe(ctx: ServerRequestContext, params: SubscribeRequestParams) -> EmptyResult:
    STATE.subscriptions.add(str(params.uri))
    return EmptyResult()


async def _unsubscribe(ctx: ServerRequestContext, params: UnsubscribeRequestParams) -> EmptyResult:
    STATE.subscriptions.discard(str(params.uri))
    return EmptyResult()
