"""Fixed-content fixtures: the `tools-call-*` content tools, the four static resources and the
template, the `prompts-get-*` prompts, completions and the JSON Schema 2020-12 / `x-mcp-header`
tools. Nothing here talks back to the client; see `interactive.py` and `input_required.py`.

Every fixture goes through `MCPServer`'s decorators; the one exception is the JSON Schema 2020-12
tool, whose hand-written `inputSchema` is set on the SDK's public `Tool` model before it is
registered (`MCPServer(tools=[...])`), because `@mcp.tool()` derives schemas from signatures only.
"""

import base64
import json
from typing import Annotated, Any

from mcp.server.mcpserver import Audio, Image, MCPServer, UserMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp_types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    EmbeddedResource,
    ImageContent,
    PromptReference,
    ResourceTemplateReference,
    TextContent,
    TextResourceContents,
)
from pydantic import Field

# A 1x1 red PNG and a 16-bit mono 8 kHz WAV of eight silent samples (the Rust example server's).
RED_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC"
)
SILENT_WAV = base64.b64decode("UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA")

SIMPLE_TEXT = "This is a simple text response for testing."
ERROR_TEXT = "This tool intentionally returns an error for testing"
STATIC_TEXT = "This is the content of the static text resource."
WATCHED_URI = "test://watched-resource"
TEMPLATE_URI = "test://template/{id}/data"

JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

# `completion/complete` candidates, matched by prefix.
COMPLETIONS: dict[tuple[str, str, str], list[str]] = {
    ("ref/prompt", "test_prompt_with_arguments", "arg1"): ["paris", "park", "party"],
    ("ref/prompt", "test_prompt_with_arguments", "arg2"): ["red", "green", "blue"],
    ("ref/resource", TEMPLATE_URI, "id"): ["1", "2", "3", "123"],
}


def json_schema_tool() -> Tool:
    """`json-schema-2020-12`: a tool whose `inputSchema` keeps every 2020-12 keyword."""

    def json_schema_2020_12_tool(name: str = "world") -> str:
        """Tool with JSON Schema 2020-12 features ($defs, $ref, allOf/anyOf, if/then/else)."""
        return f"Hello, {name}!"

    tool = Tool.from_function(json_schema_2020_12_tool)
    tool.parameters = JSON_SCHEMA_2020_12
    return tool


def register(mcp: MCPServer) -> None:
    """Registers the content tools, resources, prompts and the completion handler on `mcp`."""
    _tools(mcp)
    _resources(mcp)
    _prompts(mcp)

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        target = ref.name if isinstance(ref, PromptReference) else ref.uri
        candidates = COMPLETIONS.get((ref.type, target, argument.name), [])
        values = [c for c in candidates if c.startswith(argument.value)]
        return Completion(values=values, total=len(values), has_more=False)


def _tools(mcp: MCPServer) -> None:
    @mcp.tool()
    def test_simple_text() -> str:
        """Returns one text block."""
        return SIMPLE_TEXT

    @mcp.tool()
    def test_image_content() -> Image:
        """Returns one PNG image block."""
        return Image(data=RED_PIXEL_PNG, format="png")

    @mcp.tool()
    def test_audio_content() -> Audio:
        """Returns one WAV audio block."""
        return Audio(data=SILENT_WAV, format="wav")

    @mcp.tool()
    def test_embedded_resource() -> EmbeddedResource:
        """Returns an embedded text resource."""
        return EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri="test://embedded-resource",
                mime_type="text/plain",
                text="This is an embedded resource content.",
            ),
        )

    @mcp.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Returns text, an image and an embedded JSON resource."""
        return [
            TextContent(type="text", text="Multiple content types test:"),
            Image(data=RED_PIXEL_PNG, format="png").to_image_content(),
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri="test://mixed-content-resource",
                    mime_type="application/json",
                    text=json.dumps({"test": "data", "value": 123}),
                ),
            ),
        ]

    @mcp.tool()
    def test_error_handling() -> str:
        """Always fails with a tool execution error (isError: true)."""
        raise ToolError(ERROR_TEXT)

    @mcp.tool()
    def test_mcp_param_header(
        region: Annotated[
            str,
            Field(
                description="Any string; mirrored as the Mcp-Param-Region header",
                json_schema_extra={"x-mcp-header": "Region"},
            ),
        ],
    ) -> str:
        """Echoes `region`, which 2026-07-28 clients mirror in the Mcp-Param-Region header (SEP-2243)."""
        return f"region={region}"


def _resources(mcp: MCPServer) -> None:
    @mcp.resource("test://static-text", name="static-text", mime_type="text/plain")
    def static_text() -> str:
        """A static text resource."""
        return STATIC_TEXT

    @mcp.resource("test://static-binary", name="static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """A static binary resource (a PNG image)."""
        return RED_PIXEL_PNG

    @mcp.resource(TEMPLATE_URI, name="template", mime_type="application/json")
    def template(id: str) -> str:
        """A resource template with parameter substitution."""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


def _prompts(mcp: MCPServer) -> None:
    @mcp.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """A prompt without arguments."""
        return [UserMessage("This is a simple prompt for testing.")]

    @mcp.prompt()
    def test_prompt_with_arguments(
        arg1: Annotated[str, Field(description="First test argument")],
        arg2: Annotated[str, Field(description="Second test argument")],
    ) -> list[UserMessage]:
        """A prompt that quotes its two arguments."""
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @mcp.prompt()
    def test_prompt_with_embedded_resource(
        resourceUri: Annotated[str, Field(description="URI of the resource to embed")],  # noqa: N803 (wire name)
    ) -> list[UserMessage]:
        """A prompt that embeds the resource named by resourceUri."""
        embedded = EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
            ),
        )
        return [UserMessage(embedded), UserMessage("Please process the embedded resource above.")]

    @mcp.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt that includes an image."""
        return [UserMessage(Image(data=RED_PIXEL_PNG, format="png")), UserMessage("Please analyze the image above.")]
