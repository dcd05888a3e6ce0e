// A real OAuth 2.0 authorization server for Berth's tests, built on the npm
// `oidc-provider` package (installed by scripts/tools.sh ensure_oidc_provider).
//
//   node tests/oidc/provider.mjs --port 0 --config tests/oidc/clients.example.json
//
// Prints `READY http://127.0.0.1:PORT` on stdout once listening (the issuer;
// --port 0 picks a free port). Errors go to stderr. SIGTERM/SIGINT exit 0.
//
// Grants: client_credentials only. Each token request must name exactly one
// RFC 8707 `resource` (else the config's `default_resource`; else
// invalid_target, unless `allow_no_resource` is true, which gets
// oidc-provider's own opaque token without `aud`); the token's `aud` is that
// resource. Tokens are RFC 9068 JWTs (typ at+jwt, RS256) unless
// the resource contains `/opaque/` or starts with an `opaque_resources` entry,
// in which case they are opaque and checked at the RFC 7662 introspection
// endpoint. Requested scopes outside the client's `scope` fail with
// invalid_scope; no `scope` parameter means all of the client's scopes.
//
// Key rotation (same port, loopback only, no auth):
//   POST /admin/rotate          new RS256 key, now used for signing; old keys
//                               stay in the JWKS. SIGUSR2 does the same.
//   POST /admin/drop-old        remove every key but the active one.
//   POST /admin/drop?kid=K      remove key K (not the active one).
//   GET  /admin/keys            {"active": kid, "kids": [...]}.
// Tokens already issued (opaque ones included) stay valid across rotation.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    config: { type: 'string' },
    modules: { type: 'string' },
  },
});

const modulesDir = args.modules
  || process.env.BERTH_OIDC_MODULES
  || join(process.env.BERTH_TOOLS || join(homedir(), '.cache/berth'), 'oidc/node_modules');
const { default: Provider, errors } = await import(
  pathToFileURL(join(modulesDir, 'oidc-provider/lib/index.js')).href
);

const config = args.config ? JSON.parse(readFileSync(args.config, 'utf8')) : { clients: [] };
const clientsById = new Map();
for (const c of config.clients || []) {
  if (!c.client_id || !c.client_secret) {
    throw new Error(`client entries need client_id and client_secret: ${JSON.stringify(c)}`);
  }
  clientsById.set(c.client_id, c);
}
const introspectors = new Set(
  (config.clients || []).filter((c) => c.introspection).map((c) => c.client_id),
);
const opaquePrefixes = config.opaque_resources || [];
const defaultTTL = config.access_token_ttl || 3600;
const scopeList = (s) => (s || '').split(' ').filter(Boolean);
const allScopes = new Set(['openid', ...(config.scopes || [])]);
for (const c of clientsById.values()) scopeList(c.scope).forEach((s) => allScopes.add(s));

// ---- signing keys -------------------------------------------------------
let keyCounter = 0;
let keys = []; // private JWKs, active key first

function newKey() {
  keyCounter += 1;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `k${keyCounter}-${randomBytes(4).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };
}

// ---- storage --------------------------------------------------------------
// One in-memory store shared by every Provider instance, so opaque tokens
// survive key rotation (which rebuilds the Provider). Expired entries are
// dropped on read.
const store = new Map();
class Adapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
  }

  async find(id) {
    const e = store.get(this.key(id));
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return e.payload;
  }

  async findByUid() { return undefined; }

  async findByUserCode() { return undefined; }

  async consume(id) {
    const p = await this.find(id);
    if (p) p.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [k, e] of store) if (e.payload.grantId === grantId) store.delete(k);
  }
}

// ---- provider -----------------------------------------------------------
const cookieKeys = [randomBytes(32).toString('hex')];
let issuer;
let provider;
let handler;

function clientConfig(c) {
  return {
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: scopeList(c.scope).join(' ') || undefined,
    token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
  };
}

function isOpaque(resource) {
  return resource.includes('/opaque/') || opaquePrefixes.some((p) => resource.startsWith(p));
}

function buildProvider() {
  const activeKid = keys[0].kid;
  const p = new Provider(issuer, {
    adapter: Adapter,
    clients: [...clientsById.values()].map(clientConfig),
    jwks: { keys },
    scopes: [...allScopes],
    cookies: { keys: cookieKeys },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // The token's own client, or a client marked "introspection": true.
        allowedPolicy: async (ctx, client, token) => (
          introspectors.has(client.clientId) || token.clientId === client.clientId
        ),
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => {
          if (config.default_resource || config.allow_no_resource) return config.default_resource;
          throw new errors.InvalidTarget('resource parameter is required');
        },
        getResourceServerInfo: async (ctx, resource, client) => {
          const c = clientsById.get(client.clientId);
          const allowed = scopeList(c.scope);
          if (c.resources && !c.resources.some((r) => resource.startsWith(r))) {
            throw new errors.InvalidTarget(`client may not request tokens for ${resource}`);
          }
          if (ctx.oidc.params.grant_type === 'client_credentials') {
            const requested = scopeList(ctx.oidc.params.scope);
            const denied = requested.filter((s) => !allowed.includes(s));
            if (denied.length) {
              throw new errors.InvalidScope('requested scope is not allowed', denied.join(' '));
            }
            if (!requested.length && allowed.length) {
              ctx.oidc.params.scope = allowed.join(' ');
            }
          }
          const opaque = isOpaque(resource);
          return {
            audience: resource,
            scope: allowed.join(' '),
            accessTokenTTL: c.access_token_ttl || defaultTTL,
            accessTokenFormat: opaque ? 'opaque' : 'jwt',
            ...(opaque ? {} : { jwt: { sign: { alg: 'RS256', kid: activeKid } } }),
          };
        },
      },
    },
    extraTokenClaims: async (ctx, token) => {
      const c = clientsById.get(token.clientId);
      return c?.claims ? { ...c.claims } : undefined;
    },
    formats: {
      customizers: {
        // oidc-provider sets sub = client_id for client credentials; let a
        // client's "claims.sub" stand in for a user.
        jwt: async (ctx, token, jwt) => {
          const sub = clientsById.get(token.clientId)?.claims?.sub;
          if (sub) jwt.payload.sub = sub;
        },
      },
    },
    ttl: {
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL || defaultTTL,
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || defaultTTL,
    },
    // Plain JSON errors; no HTML.
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  p.on('server_error', (ctx, err) => console.error('server_error', err));
  for (const ev of ['grant.error', 'introspection.error', 'revocation.error']) {
    p.on(ev, (ctx, err) => console.error(`${ev}: ${err.error || err.name}: ${err.error_description || err.message}`));
  }
  provider = p;
  handler = p.callback();
}

function keysState() {
  return { active: keys[0].kid, kids: keys.map((k) => k.kid) };
}

function rotate() {
  keys = [newKey(), ...keys];
  buildProvider();
  console.error(`rotated: active key ${keys[0].kid}`);
  return keysState();
}

function admin(req, res, url) {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    if (req.method === 'GET' && url.pathname === '/admin/keys') {
      return send(200, keysState());
    }
    if (req.method !== 'POST') return send(405, { error: 'method not allowed' });
    switch (url.pathname) {
      case '/admin/rotate':
        return send(200, rotate());
      case '/admin/drop-old':
        keys = [keys[0]];
        buildProvider();
        return send(200, keysState());
      case '/admin/drop': {
        const kid = url.searchParams.get('kid');
        if (kid === keys[0].kid) return send(400, { error: 'cannot drop the active key' });
        if (!keys.some((k) => k.kid === kid)) return send(404, { error: `no key ${kid}` });
        keys = keys.filter((k) => k.kid !== kid);
        buildProvider();
        return send(200, keysState());
      }
      default:
        return send(404, { error: 'not found' });
    }
  } catch (err) {
    console.error('admin error', err);
    return send(500, { error: String(err) });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname.startsWith('/admin/')) return admin(req, res, url);
  return handler(req, res);
});

server.on('error', (err) => {
  console.error(`listen error: ${err.message}`);
  process.exit(1);
});

server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  issuer = `http://${args.host}:${port}`;
  keys = [newKey()];
  buildProvider();
  process.stdout.write(`READY ${issuer}\n`);
});

process.on('SIGUSR2', () => rotate());
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
