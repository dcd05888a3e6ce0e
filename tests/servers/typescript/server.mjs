// The McpServer factory both transports use: capabilities, the requestState
// codec, the catalog, and (for 2025 sessions) resources/subscribe.
//
// Imports: catalog.mjs, tools.mjs, state.mjs and the SDK.

import { randomBytes } from 'node:crypto';

import { createRequestStateCodec, McpServer } from '@modelcontextprotocol/server';

import { registerPrompts, registerResources } from './catalog.mjs';
import * as state from './state.mjs';
import { registerTools } from './tools.mjs';

export const SERVER_NAME = 'berth-ts-everything';
export const SERVER_VERSION = '1.0.0';

// One key per process: a 2026-07-28 flow's rounds may each be served by a
// fresh instance, so the key must outlive them. Bound to the method, so a
// state minted by tools/call is refused by prompts/get.
const codec = createRequestStateCodec({
  key: randomBytes(32),
  ttlSeconds: 600,
  bind: (ctx) => ctx.mcpReq.method,
});

/**
 * A new McpServer for one serving unit.
 * - era: 'legacy' (2025 initialize handshake) or 'modern' (2026-07-28);
 * - longLived: the instance outlives a request (stdio connection, 2025 HTTP
 *   session), so it registers with state.mjs to hear about changes.
 */
export function createServer({ era, longLived }) {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        // Deprecated in 2026-07-28 (SEP-2577); still what 2025 sessions use.
        logging: {},
        completions: {},
      },
      instructions:
        'Berth test server on the official TypeScript SDK: every MCP conformance fixture ' +
        '(test_* tools, test:// resources, test_* prompts) in both protocol eras.',
      requestState: { verify: codec.verify },
    },
  );
  const tool = registerTools(server, { era, codec });
  const prompt = registerPrompts(server);
  registerResources(server);

  const subscriptions = new Set();
  if (era === 'legacy') {
    // McpServer has no high-level subscribe API; the low-level handlers are
    // the SDK's way (2026-07-28 replaced these with subscriptions/listen,
    // which the serving entries answer themselves).
    server.server.setRequestHandler('resources/subscribe', async (request) => {
      subscriptions.add(request.params.uri);
      return {};
    });
    server.server.setRequestHandler('resources/unsubscribe', async (request) => {
      subscriptions.delete(request.params.uri);
      return {};
    });
  }
  if (longLived) {
    const forget = state.track({ server, era, tool, prompt, subscriptions });
    const previous = server.server.onclose;
    server.server.onclose = () => {
      forget();
      previous?.();
    };
  }
  return server;
}
