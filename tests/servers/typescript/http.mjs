// Streamable HTTP at /mcp, both eras on one endpoint, as the SDK docs
// ("Keep a sessionful 2025 deployment running") compose it:
// - isLegacyRequest() (the SDK's own era classification) sends 2025-era
//   traffic to sessionful WebStandardStreamableHTTPServerTransports, one
//   McpServer per Mcp-Session-Id, with an event store so SSE streams resume
//   (Last-Event-ID) and priming events carry `retry`;
// - everything else goes to createMcpHandler(..., { legacy: 'reject' }), the
//   2026-07-28 entry (per-request instances, server/discover,
//   subscriptions/listen, the header/envelope validation ladder).
// With legacyOnly the modern entry is not mounted: every request takes the
// 2025 path, as a 2025-only server would answer it.
//
// Host (DNS rebinding) and Origin checks run first: loopback names only,
// unless --allowed-host adds names or --any-host turns the check off.
//
// Imports: server.mjs, state.mjs and the SDK.

import { randomUUID } from 'node:crypto';
import http from 'node:http';

import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  hostHeaderValidationResponse,
  isInitializeRequest,
  isLegacyRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  originValidationResponse,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';

import { createServer } from './server.mjs';
import * as state from './state.mjs';

export const MCP_PATH = '/mcp';
/** SSE `retry` (ms) suggested in priming events (SEP-1699). */
const RETRY_MS = 1000;

/** Serves until SIGTERM/SIGINT; prints `listening on http://ADDR/mcp`. */
export async function serveHttp({ host, port, legacyOnly, allowedHosts, anyHost }) {
  const onerror = (error) => console.error(`everything.mjs: ${error?.message ?? error}`);
  const sessions = new Map();
  const modern = legacyOnly
    ? undefined
    : createMcpHandler(({ era }) => createServer({ era, longLived: false }), { legacy: 'reject', onerror });
  if (modern) state.addNotifier(modern.notify);

  const hostnames = [...localhostAllowedHostnames(), ...allowedHosts];
  const origins = [...localhostAllowedOrigins(), ...allowedHosts];

  async function legacy(request) {
    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId) {
      const transport = sessions.get(sessionId);
      if (!transport) return jsonRpcError(404, -32001, 'Session not found');
      return transport.handleRequest(request);
    }
    if (request.method === 'POST') {
      const body = await request
        .clone()
        .json()
        .catch(() => undefined);
      if (isInitializeRequest(body)) return openSession(request, body);
    }
    return jsonRpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
  }

  async function openSession(request, body) {
    const server = createServer({ era: 'legacy', longLived: true });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: memoryEventStore(),
      retryInterval: RETRY_MS,
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      server.close().catch(() => {});
    };
    await server.connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  }

  async function route(request) {
    if (!anyHost) {
      const rejected =
        hostHeaderValidationResponse(request, hostnames) ?? originValidationResponse(request, origins);
      if (rejected) return rejected;
    }
    if (new URL(request.url).pathname !== MCP_PATH) return new Response('Not Found', { status: 404 });
    if (modern && !(await isLegacyRequest(request))) return modern.fetch(request);
    return legacy(request);
  }

  const httpServer = http.createServer(toNodeHandler({ fetch: route }, { onerror }));
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, resolve);
  });
  const { address, port: bound } = httpServer.address();
  const shown = address.includes(':') ? `[${address}]` : address;
  process.stdout.write(`listening on http://${shown}:${bound}${MCP_PATH}\n`);

  const stop = async () => {
    httpServer.close();
    httpServer.closeAllConnections?.();
    await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
    await modern?.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function jsonRpcError(status, code, message) {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status });
}

/** An in-memory EventStore (the SDK ships the interface, not a store): event
 * ids are `{stream}_{seq}`, so a Last-Event-ID names its stream. */
function memoryEventStore() {
  const events = new Map(); // streamId -> [{ id, seq, message }]
  let next = 0;
  const parse = (eventId) => {
    const cut = eventId.lastIndexOf('_');
    return cut < 0 ? undefined : { streamId: eventId.slice(0, cut), seq: Number(eventId.slice(cut + 1)) };
  };
  return {
    async storeEvent(streamId, message) {
      next += 1;
      const id = `${streamId}_${next}`;
      if (!events.has(streamId)) events.set(streamId, []);
      events.get(streamId).push({ id, seq: next, message });
      return id;
    },
    async getStreamIdForEventId(eventId) {
      const parsed = parse(eventId);
      return parsed && events.has(parsed.streamId) ? parsed.streamId : undefined;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const parsed = parse(lastEventId);
      if (!parsed || !events.has(parsed.streamId)) return '';
      for (const event of events.get(parsed.streamId)) {
        if (event.seq > parsed.seq) await send(event.id, event.message);
      }
      return parsed.streamId;
    },
  };
}
