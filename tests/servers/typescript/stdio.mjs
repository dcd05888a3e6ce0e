// stdio (newline-delimited JSON-RPC on stdin/stdout).
// - Default: serveStdio, the SDK's stdio entry. The opening exchange picks the
//   connection's era (initialize: 2025; server/discover or an enveloped
//   request: 2026-07-28) and pins one instance from the factory; on
//   2026-07-28 it answers subscriptions/listen itself and routes the
//   instance's change notifications onto the open subscriptions.
// - legacyOnly: one McpServer on a plain StdioServerTransport, the SDK's
//   2025-era stdio wiring.
// The process exits when stdin closes (the transport closes itself on EOF).
//
// Imports: server.mjs and the SDK.

import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';

import { createServer } from './server.mjs';

export async function serveStdioEras({ legacyOnly }) {
  const onerror = (error) => console.error(`everything.mjs: ${error?.message ?? error}`);
  let close;
  if (legacyOnly) {
    const server = createServer({ era: 'legacy', longLived: true });
    server.server.onerror = onerror;
    await server.connect(new StdioServerTransport());
    close = () => server.close();
  } else {
    const handle = serveStdio(({ era }) => createServer({ era, longLived: true }), { onerror });
    close = () => handle.close();
  }
  const stop = async () => {
    await close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
