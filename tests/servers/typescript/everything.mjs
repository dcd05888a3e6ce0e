// Berth's "everything" MCP server on the official TypeScript SDK.
//
// Every fixture the official conformance suites call on a server (the test_*
// tools, test:// resources and template, test_* prompts, completions,
// logging, progress, sampling, elicitation in form and URL mode, roots,
// list-changed and resource-updated notifications, requestState, the
// missing-capability refusal), built with the SDK's high-level API so a test
// can compare what the SDK does directly with what Berth passes through.
//
// SDK: TypeScript SDK v2, npm @modelcontextprotocol/server 2.4.0 (+
// @modelcontextprotocol/node 2.1.2 for node:http, zod 4.6.7), installed by
// scripts/tools.sh ensure_ts_sdk. It speaks both protocol eras:
// - 2025 (initialize handshake, sessions): 2024-11-05, 2025-03-26,
//   2025-06-18 and 2025-11-25 (and 2024-10-07);
// - 2026-07-28 (stateless: server/discover, per-request _meta envelope,
//   input_required results, subscriptions/listen).
// (v1, npm @modelcontextprotocol/sdk 1.32.x, speaks only the 2025 era.)
//
// Usage (BERTH_TEST_NODE is Node 22). The SDK's node_modules directory is
// --modules DIR, else $BERTH_TS_SDK_MODULES, else a NODE_PATH entry, else a
// node_modules next to these files, else $BERTH_TOOLS/tssdk/node_modules
// (default ~/.cache/berth/tssdk/node_modules); ESM ignores NODE_PATH, so a
// resolve hook retries unresolved bare imports from there.
//
//   node everything.mjs                    stdio, both eras (serveStdio)
//   node everything.mjs --http 127.0.0.1:0 Streamable HTTP at /mcp; prints
//                                          `listening on http://ADDR/mcp`
//        [--allowed-host HOST]...          also accept this Host/Origin name
//        [--any-host]                      no Host/Origin checks
//   node everything.mjs --legacy-only ...  2025 era only: stdio is a plain
//                                          McpServer.connect(StdioServerTransport)
//                                          and HTTP mounts no 2026-07-28 entry
//   node everything.mjs --berth-input-keys ...  every embedded input request
//                                          carries _meta["berth/inputKey"] (its
//                                          key), so Berth can keep the keys when
//                                          it turns a 2025 session's
//                                          server->client requests into
//                                          input_required (see input.mjs)
//
// Run the conformance suites directly against it:
//   source scripts/tools.sh; ensure_conformance; ensure_ts_sdk
//   "$BERTH_TEST_NODE" "$BERTH_TEST_TS_SERVER" --http 127.0.0.1:3411 &
//   "$BERTH_TEST_NODE" "$BERTH_TEST_CONFORMANCE" server \
//       --url http://localhost:3411/mcp --spec-version 2025-11-25
//   "$BERTH_TEST_NODE" "$BERTH_TEST_CONFORMANCE_NEXT" server \
//       --url http://localhost:3411/mcp --requirements 2026-07-28
//
// Logs go to stderr; stdout is the MCP stream (stdio) or the one
// `listening on` line (HTTP). SIGTERM/SIGINT exit 0.
//
// Layout: everything.mjs (this file: arguments, finding the SDK), server.mjs
// (the McpServer factory), tools.mjs, catalog.mjs (prompts, resources),
// input.mjs (input_required), state.mjs (what the trigger tools change),
// http.mjs, stdio.mjs, fixtures.mjs.

import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const USAGE =
  'usage: everything.mjs [--legacy-only] [--berth-input-keys] [--modules DIR]\n' +
  '                      [--http HOST:PORT [--allowed-host HOST]... [--any-host]]';

function parseArgs(argv) {
  const options = { http: undefined, legacyOnly: false, allowedHosts: [], anyHost: false, modules: undefined, inputKeys: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      i += 1;
      return argv[i];
    };
    if (arg === '-h' || arg === '--help') return { help: true };
    else if (arg === '--legacy-only') options.legacyOnly = true;
    else if (arg === '--berth-input-keys') options.inputKeys = true;
    else if (arg === '--http') options.http = value();
    else if (arg === '--modules') options.modules = value();
    else if (arg === '--allowed-host') options.allowedHosts.push(value());
    else if (arg === '--any-host') options.anyHost = true;
    else throw new Error(`unknown argument \`${arg}\``);
  }
  if (!options.http && (options.anyHost || options.allowedHosts.length > 0)) {
    throw new Error('--allowed-host and --any-host only apply with --http');
  }
  if (options.http) {
    const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(options.http);
    if (!match) throw new Error(`--http: \`${options.http}\` is not an address like 127.0.0.1:3001`);
    options.host = match[1].replace(/^\[|\]$/g, '');
    options.port = Number(match[2]);
  }
  return options;
}

/** ESM ignores NODE_PATH, so bare imports that do not resolve from here are
 * retried from the SDK's node_modules directory. */
function resolveSdkFrom(modulesDir) {
  const parentURL = pathToFileURL(join(modulesDir, 'berth-resolve-base.mjs')).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const bare = !/^(\.|\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
        if (!bare || error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
        return nextResolve(specifier, { ...context, parentURL });
      }
    },
  });
}

function sdkModulesDir(fromArgs) {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    fromArgs,
    process.env.BERTH_TS_SDK_MODULES,
    ...(process.env.NODE_PATH ?? '').split(':'),
    join(here, 'node_modules'),
    join(process.env.BERTH_TOOLS || join(homedir(), '.cache/berth'), 'tssdk/node_modules'),
  ];
  return candidates.find((dir) => dir && existsSync(join(dir, '@modelcontextprotocol/server/package.json')));
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`everything.mjs: ${error.message}\n${USAGE}`);
  process.exit(64);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const modulesDir = sdkModulesDir(options.modules);
if (!modulesDir) {
  console.error('everything.mjs: @modelcontextprotocol/server not found; run scripts/tools.sh ensure_ts_sdk');
  process.exit(1);
}
resolveSdkFrom(modulesDir);
const { setInputKeyHints } = await import('./input.mjs');
setInputKeyHints(options.inputKeys);

if (options.http) {
  const { serveHttp } = await import('./http.mjs');
  await serveHttp(options);
} else {
  const { serveStdioEras } = await import('./stdio.mjs');
  await serveStdioEras(options);
}
