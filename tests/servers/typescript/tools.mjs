// The tool catalog: every `test_*` tool the two conformance suites call, in
// both eras, through the SDK's high-level McpServer.registerTool.
//
// Tools that need the client (sampling, elicitation in form and URL mode,
// roots) are written once, the v2 SDK way: they return `inputRequired(...)`
// until the answers are there. On a 2026-07-28 request that result goes back
// to the client (and the SDK refuses an embedded request the request's
// envelope did not declare the capability for, -32021); on a 2025 session the
// SDK's legacy shim sends real server->client requests instead (refusing
// capabilities the client did not declare at initialize) and re-enters the
// handler with the answers. (needInput is inputRequired plus the opt-in
// --berth-input-keys hint, see input.mjs.)
//
// Imports: fixtures.mjs, input.mjs, state.mjs and the SDK.

import { randomUUID } from 'node:crypto';

import {
  acceptedContent,
  CLIENT_CAPABILITIES_META_KEY,
  fromJsonSchema,
  inputRequired,
  inputResponse,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/server';
import * as z from 'zod/v4';

import * as fx from './fixtures.mjs';
import { needInput } from './input.mjs';
import * as state from './state.mjs';

const STEP_MS = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (value) => ({ content: [{ type: 'text', text: value }] });
const noArgs = () => z.object({});

/** Registers every tool on `server`; returns the registration of
 * `test_dynamic_tool`, which test_trigger_tool_change enables and disables. */
export function registerTools(server, { era, codec }) {
  content(server);
  signals(server);
  interactive(server, era);
  inputRequiredTools(server, codec);
  const dynamic = server.registerTool(
    'test_dynamic_tool',
    { description: 'Listed only while test_trigger_tool_change has toggled it on', inputSchema: noArgs() },
    async () => text('the dynamic tool ran'),
  );
  if (!state.dynamicToolListed()) dynamic.disable();
  return dynamic;
}

/** Tools that return fixed content. */
function content(server) {
  const tool = (name, description, result) =>
    server.registerTool(name, { description, inputSchema: noArgs() }, async () => result);
  tool('test_simple_text', 'Returns one text block', text(fx.SIMPLE_TEXT));
  tool('test_image_content', 'Returns one PNG image block', {
    content: [{ type: 'image', data: fx.RED_PIXEL_PNG, mimeType: 'image/png' }],
  });
  tool('test_audio_content', 'Returns one WAV audio block', {
    content: [{ type: 'audio', data: fx.SILENT_WAV, mimeType: 'audio/wav' }],
  });
  tool('test_embedded_resource', 'Returns an embedded text resource', {
    content: [
      {
        type: 'resource',
        resource: { uri: fx.EMBEDDED_RESOURCE_URI, mimeType: 'text/plain', text: fx.EMBEDDED_RESOURCE_TEXT },
      },
    ],
  });
  tool('test_multiple_content_types', 'Returns text, an image and an embedded JSON resource', {
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: fx.RED_PIXEL_PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: { uri: fx.MIXED_RESOURCE_URI, mimeType: 'application/json', text: fx.MIXED_RESOURCE_JSON },
      },
    ],
  });
  // A throwing handler is the SDK's way to a tool execution error
  // (isError: true, the message as text).
  server.registerTool(
    'test_error_handling',
    { description: 'Always fails with a tool execution error (isError: true)', inputSchema: noArgs() },
    async () => {
      throw new Error(fx.ERROR_TEXT);
    },
  );
  server.registerTool(
    'json_schema_2020_12_tool',
    { description: 'Tool with JSON Schema 2020-12 features', inputSchema: fromJsonSchema(fx.JSON_SCHEMA_2020_12) },
    async (args) => text(`Hello, ${typeof args?.name === 'string' ? args.name : 'world'}!`),
  );
  // SEP-2243: clients mirror `region` in Mcp-Param-Region; the SDK's HTTP
  // entry checks the header against the body before dispatch.
  server.registerTool(
    'test_mcp_param_header',
    {
      description: 'Echoes `region`, which clients mirror in the Mcp-Param-Region header (SEP-2243)',
      inputSchema: fromJsonSchema({
        type: 'object',
        properties: {
          region: { type: 'string', description: 'Any string; mirrored as a header', 'x-mcp-header': 'Region' },
        },
        required: ['region'],
      }),
    },
    async (args) => text(`region=${args.region}`),
  );
  server.registerTool(
    'echo',
    { description: 'Returns `text` unchanged', inputSchema: z.object({ text: z.string() }) },
    async ({ text: value }) => text(value),
  );
}

/** Tools that send something besides their result. */
function signals(server) {
  const logging = async (_args, ctx) => {
    // ctx.mcpReq.log honours logging/setLevel (2025) and the request's
    // _meta logLevel (2026-07-28: no logLevel, no log).
    for (const message of ['Tool execution started', 'Tool processing data', 'Tool execution completed']) {
      await ctx.mcpReq.log('info', message);
      await sleep(STEP_MS);
    }
    return text('Logging test completed');
  };
  server.registerTool(
    'test_tool_with_logging',
    { description: 'Sends three info log messages, 50 ms apart, then returns', inputSchema: noArgs() },
    logging,
  );
  server.registerTool(
    'test_logging_tool',
    { description: 'Same as test_tool_with_logging (the 2026-07-28 suite calls it this)', inputSchema: noArgs() },
    logging,
  );
  server.registerTool(
    'test_tool_with_progress',
    {
      description: 'Reports progress 0, 50 and 100 of 100, 50 ms apart, if given a progress token',
      inputSchema: noArgs(),
    },
    async (_args, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      if (progressToken !== undefined) {
        for (const [progress, message] of [[0, 'Starting'], [50, 'Halfway'], [100, 'Done']]) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 100, message },
          });
          await sleep(STEP_MS);
        }
      }
      return text('Progress test completed');
    },
  );
  server.registerTool(
    'test_reconnection',
    {
      description:
        'Over HTTP (2025 sessions), closes its own SSE stream mid-call (SEP-1699); the answer is replayed ' +
        'when the client resumes with Last-Event-ID',
      inputSchema: noArgs(),
    },
    async (_args, ctx) => {
      ctx.http?.closeSSE?.();
      await sleep(STEP_MS * 2);
      return text('Reconnection test completed');
    },
  );
  server.registerTool(
    'test_trigger_tool_change',
    { description: 'Adds or removes test_dynamic_tool (notifications/tools/list_changed)', inputSchema: noArgs() },
    async () => text(`test_dynamic_tool listed: ${state.toggleDynamicTool()}`),
  );
  server.registerTool(
    'test_trigger_prompt_change',
    { description: 'Adds or removes test_dynamic_prompt (notifications/prompts/list_changed)', inputSchema: noArgs() },
    async () => text(`test_dynamic_prompt listed: ${state.toggleDynamicPrompt()}`),
  );
  server.registerTool(
    'test_trigger_resource_update',
    { description: 'Changes test://watched-resource and notifies its subscribers', inputSchema: noArgs() },
    async () => text(`${fx.WATCHED_URI} is now at revision ${await state.bumpWatched(fx.WATCHED_URI)}`),
  );
}

/** The 2025 suite's sampling and elicitation tools, plus URL-mode elicitation. */
function interactive(server, era) {
  server.registerTool(
    'test_sampling',
    {
      description: "Asks the client's LLM to complete `prompt` (sampling/createMessage)",
      inputSchema: z.object({ prompt: z.string().describe('The prompt to send') }),
    },
    async ({ prompt }, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'completion');
      if (answer.kind !== 'sampling') {
        return needInput({
          inputRequests: {
            completion: inputRequired.createMessage({
              messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
              maxTokens: 100,
            }),
          },
        });
      }
      return text(`LLM response: ${sampledText(answer.result)}`);
    },
  );
  const elicitTool = (name, description, inputSchema, key, ask, label) =>
    server.registerTool(name, { description, inputSchema }, async (args, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, key);
      if (answer.kind !== 'elicit') {
        return needInput({ inputRequests: { [key]: inputRequired.elicit(ask(args)) } });
      }
      return text(`${label}: action=${answer.action}, content=${JSON.stringify(answer.content ?? null)}`);
    });
  elicitTool(
    'test_elicitation',
    'Asks the user for a username and an email (elicitation/create, form mode)',
    z.object({ message: z.string().describe('The message to show') }),
    'user_info',
    ({ message }) => ({ message, requestedSchema: fx.USER_SCHEMA }),
    'User response',
  );
  elicitTool(
    'test_elicitation_sep1034_defaults',
    'Elicits a form whose every field has a default value (SEP-1034)',
    noArgs(),
    'defaults',
    () => ({ message: 'Please review these values (every field has a default)', requestedSchema: fx.DEFAULTS_SCHEMA }),
    'Elicitation completed',
  );
  elicitTool(
    'test_elicitation_sep1330_enums',
    'Elicits a form with all five enum shapes (SEP-1330)',
    noArgs(),
    'choices',
    () => ({ message: 'Please pick from each list', requestedSchema: fx.ENUMS_SCHEMA }),
    'Elicitation completed',
  );
  const consentUrl = 'https://example.com/berth/consent';
  server.registerTool(
    'test_elicitation_url',
    {
      description: 'Asks the user to visit a URL (elicitation/create, URL mode; key consent)',
      inputSchema: noArgs(),
    },
    async (_args, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'consent');
      if (answer.kind !== 'elicit') {
        return needInput({
          inputRequests: {
            consent: inputRequired.elicitUrl({ message: 'Open the link to grant access', url: consentUrl }),
          },
        });
      }
      return text(`URL elicitation: action=${answer.action}`);
    },
  );
  // The 2025-11-25 idiom for URL mode: fail with -32042 naming the URL. The
  // 2026-07-28 era has no such error, so there it is an input request.
  server.registerTool(
    'test_url_elicitation_required',
    {
      description: 'Fails with -32042 (URL elicitation required) on 2025 sessions; asks in-band on 2026-07-28',
      inputSchema: noArgs(),
    },
    async (_args, ctx) => {
      const message = 'Authorization is required; open the link';
      if (era === 'legacy') {
        throw new UrlElicitationRequiredError([{ mode: 'url', message, url: consentUrl, elicitationId: randomUUID() }]);
      }
      if (inputResponse(ctx.mcpReq.inputResponses, 'authorize').kind === 'elicit') return text('authorized');
      return needInput({ inputRequests: { authorize: inputRequired.elicitUrl({ message, url: consentUrl }) } });
    },
  );
}

/** The 2026-07-28 input-required (SEP-2322) and capability fixtures. */
function inputRequiredTools(server, codec) {
  const askName = (message) =>
    inputRequired.elicit({ message, requestedSchema: fx.objectSchema('name', { type: 'string' }) });
  const tool = (name, description, handler) =>
    server.registerTool(name, { description, inputSchema: noArgs() }, handler);

  tool('test_input_required_result_elicitation', "Asks for the user's name (key user_name), then greets them", async (_a, ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', z.object({ name: z.string() }));
    if (answer === undefined) return needInput({ inputRequests: { user_name: askName('What is your name?') } });
    return text(`Hello, ${answer.name}!`);
  });
  tool('test_input_required_result_sampling', "Asks the client's LLM a question (key capital_question)", async (_a, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'capital_question');
    if (answer.kind !== 'sampling') {
      return needInput({
        inputRequests: {
          capital_question: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
            maxTokens: 100,
          }),
        },
      });
    }
    return text(`The model answered: ${sampledText(answer.result)}`);
  });
  tool('test_input_required_result_list_roots', "Asks for the client's roots (key client_roots)", async (_a, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'client_roots');
    if (answer.kind !== 'roots') return needInput({ inputRequests: { client_roots: inputRequired.listRoots() } });
    return text(`Client roots: ${answer.roots.map((root) => root.uri).join(', ')}`);
  });
  // requestState is minted with the SDK's HMAC codec; its verify hook (set
  // on the McpServer) rejects a tampered or expired state with -32602 before
  // the handler runs, so the tampered-state tool is the same flow.
  const confirmFlow = async (_a, ctx) => {
    const confirm = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', z.object({ ok: z.boolean() }));
    const minted = ctx.mcpReq.requestState();
    if (confirm === undefined || minted?.flow !== 'confirm') {
      return needInput({
        inputRequests: {
          confirm: inputRequired.elicit({
            message: 'Please confirm',
            requestedSchema: fx.objectSchema('ok', { type: 'boolean' }),
          }),
        },
        requestState: await codec.mint({ flow: 'confirm', nonce: randomUUID() }, ctx),
      });
    }
    return text(`state-ok: confirmed=${confirm.ok}`);
  };
  tool('test_input_required_result_request_state', 'Asks for a confirmation (key confirm) with a sealed requestState', confirmFlow);
  tool('test_input_required_result_tampered_state', 'Same flow; a tampered requestState is -32602', confirmFlow);
  tool('test_input_required_result_multiple_inputs', 'Asks for a name, an LLM greeting and the roots at once', async (_a, ctx) => {
    const responses = ctx.mcpReq.inputResponses;
    const name = acceptedContent(responses, 'user_name', z.object({ name: z.string() }));
    const greeting = inputResponse(responses, 'greeting');
    const roots = inputResponse(responses, 'client_roots');
    if (name === undefined || greeting.kind !== 'sampling' || roots.kind !== 'roots') {
      return needInput({
        inputRequests: {
          user_name: askName('What is your name?'),
          greeting: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
            maxTokens: 50,
          }),
          client_roots: inputRequired.listRoots(),
        },
        requestState: await codec.mint({ flow: 'multiple_inputs' }, ctx),
      });
    }
    const uris = roots.roots.map((root) => root.uri).join(', ');
    return text(`name=${name.name}, greeting=${sampledText(greeting.result)}, roots=${uris}`);
  });
  // Two rounds: inputResponses only holds the latest round's answers, so the
  // round and the first answer travel in the sealed requestState.
  tool('test_input_required_result_multi_round', 'Asks for a name (step1), then a favourite colour (step2)', async (_a, ctx) => {
    const carried = ctx.mcpReq.requestState();
    const responses = ctx.mcpReq.inputResponses;
    const round = carried?.flow === 'multi_round' ? carried.round : 0;
    const ask = async (key, request, next) =>
      needInput({ inputRequests: { [key]: request }, requestState: await codec.mint({ flow: 'multi_round', ...next }, ctx) });
    const askColor = inputRequired.elicit({
      message: 'Step 2: What is your favorite color?',
      requestedSchema: fx.objectSchema('color', { type: 'string' }),
    });
    if (round === 2) {
      const step2 = acceptedContent(responses, 'step2', z.object({ color: z.string() }));
      if (step2 !== undefined) return text(`${carried.name} likes ${step2.color}`);
      return ask('step2', askColor, { round: 2, name: carried.name });
    }
    const step1 = round === 1 ? acceptedContent(responses, 'step1', z.object({ name: z.string() })) : undefined;
    if (step1 === undefined) return ask('step1', askName('Step 1: What is your name?'), { round: 1 });
    return ask('step2', askColor, { round: 2, name: step1.name });
  });
  tool('test_input_required_result_capabilities', 'Asks only through the input capabilities the client declared', async (_a, ctx) => {
    const declared = ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY] ?? server.server.getClientCapabilities() ?? {};
    const responses = ctx.mcpReq.inputResponses;
    const asks = {};
    if (declared.elicitation !== undefined && inputResponse(responses, 'user_name').kind === 'missing') {
      asks.user_name = askName('What is your name?');
    }
    if (declared.sampling !== undefined && inputResponse(responses, 'summary').kind === 'missing') {
      asks.summary = inputRequired.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'Summarise MCP in one line' } }],
        maxTokens: 50,
      });
    }
    if (Object.keys(asks).length > 0) return needInput({ inputRequests: asks });
    return text(`answered through declared capabilities: ${JSON.stringify(Object.keys(responses ?? {}))}`);
  });
  // Needs sampling: the SDK refuses the embedded request for a client that
  // did not declare it: -32021 on 2026-07-28; on 2025 sessions the legacy
  // shim's gate answers a tool error (isError: true) instead, and McpServer
  // turns anything a tool throws (but -32042) into a tool error too.
  tool('test_missing_capability', 'Needs sampling; a client that did not declare it is refused', async (_a, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'completion');
    if (answer.kind !== 'sampling') {
      return needInput({
        inputRequests: {
          completion: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'Say hello' } }],
            maxTokens: 20,
          }),
        },
      });
    }
    return text(`LLM response: ${sampledText(answer.result)}`);
  });
  // server-stateless: the response stream must carry no top-level requests.
  tool('test_streaming_elicitation', 'Answers with result frames only (no server->client request)', async () =>
    text('stream observed: result frames only'),
  );
}

/** The text of a sampling result (single block or array). */
function sampledText(result) {
  const blocks = Array.isArray(result?.content) ? result.content : [result?.content];
  const block = blocks.find((b) => b?.type === 'text');
  return block?.text ?? JSON.stringify(result?.content ?? null);
}
