// Node `--import` preload for running the official MCP conformance CLI
// against Berth with authentication on: the CLI cannot send a bearer token,
// so this adds `Authorization: Bearer $BERTH_TOKEN` to every request it
// makes to $BERTH_ORIGIN, through `fetch` (the TypeScript SDK client and the
// raw probes), `undici.request` (the DNS-rebinding probe) and
// `http.request` (the header-validation probes). Requests to any other
// origin are untouched.
import http from 'node:http';
import { createRequire } from 'node:module';

const origin = process.env.BERTH_ORIGIN;
const token = process.env.BERTH_TOKEN;
if (!origin || !token) {
  throw new Error('auth-preload: set BERTH_ORIGIN and BERTH_TOKEN');
}

function forBerth(url) {
  try {
    return new URL(String(url)).origin === origin;
  } catch {
    return false;
  }
}

const originalFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  const url = input instanceof Request ? input.url : String(input);
  if (forBerth(url)) {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    init = { ...init, headers };
  }
  return originalFetch(input, init);
};

// The CLI's own copy of undici (resolved next to the CLI entry point).
const entry = process.env.BERTH_CONFORMANCE_ENTRY;
if (entry) {
  const undici = createRequire(entry)('undici');
  const originalRequest = undici.request;
  undici.request = function (url, opts = {}) {
    if (forBerth(url)) {
      const headers = { ...(opts.headers ?? {}) };
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
        headers.authorization = `Bearer ${token}`;
      }
      opts = { ...opts, headers };
    }
    return originalRequest.call(this, url, opts);
  };
}

// Raw `node:http` probes (the header-validation scenarios) pass
// `{hostname, port, path, headers}` options.

const originalHttpRequest = http.request;
http.request = function (options, ...rest) {
  if (options && typeof options === 'object' && !(options instanceof URL) && options.hostname) {
    const url = `http://${options.hostname}${options.port ? `:${options.port}` : ''}/`;
    if (forBerth(url)) {
      const headers = { ...(options.headers ?? {}) };
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
        headers.authorization = `Bearer ${token}`;
      }
      options = { ...options, headers };
    }
  }
  return originalHttpRequest.call(this, options, ...rest);
};
