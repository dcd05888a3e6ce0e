// Returning an input-required result (SEP-2322) the SDK's way, with one
// opt-in addition for Berth: with --berth-input-keys every embedded request
// carries `_meta["berth/inputKey"]` = its key. On a 2025 session the SDK's
// legacy shim sends these requests as ordinary server->client requests, which
// name no key; a proxy that turns them back into an input-required result for
// a 2026-07-28 client (as Berth does) can then reuse the server's keys
// instead of inventing its own (`elicit-1`, ...). Off by default, so the
// server shows exactly what the SDK sends.
//
// Imports: the SDK only.

import { inputRequired } from '@modelcontextprotocol/server';

export const INPUT_KEY_HINT = 'berth/inputKey';

let hintKeys = false;

export function setInputKeyHints(enabled) {
  hintKeys = enabled;
}

/** `inputRequired(spec)`, with the key hints when enabled. */
export function needInput(spec) {
  if (!hintKeys || !spec.inputRequests) return inputRequired(spec);
  const inputRequests = {};
  for (const [key, request] of Object.entries(spec.inputRequests)) {
    const params = request.params ?? {};
    inputRequests[key] = { ...request, params: { ...params, _meta: { ...params._meta, [INPUT_KEY_HINT]: key } } };
  }
  return inputRequired({ ...spec, inputRequests });
}
