// The keys of pgwarden's configuration file (docs/cli.md#the-configuration-file): every
// option of `pgwarden up`, named as the option without its dashes (`--max-connections`
// is `max-connections`), with what its value must be. Secrets are not keys: each comes
// from an environment variable (or a file that only pgwarden reads).
import { z } from 'zod';
import { AUTH_METHODS } from '../catalog/auth-method.js';
import { LOG_LEVELS } from '../util/defaults.js';

const text = z.string().min(1);
const path = text;
const bool = z.boolean();
const port = z.number().int().min(0).max(65535);
const count = z.number().int().min(0);
const seconds = z.number().positive().finite();
const url = z.url();
/** One value or a list of them; always a list after parsing. */
const list = z.union([text.transform((s) => [s]), z.array(text).min(1)]);

/** An OpenID Connect issuer: its URL (the flags' settings apply), or a mapping with its own. */
const oidcIssuer = z.union([
  url,
  z.strictObject({
    issuer: url,
    audience: list.optional(),
    'name-claim': text.optional(),
    'subject-claim': text.optional(),
    'groups-claim': text.optional(),
    algorithm: list.optional(),
    scope: text.optional(),
  }),
]);

export interface ConfigKey {
  readonly schema: z.ZodType;
  /** What a good value is, for messages. */
  readonly expected: string;
  /** A path: relative to the configuration file's directory. */
  readonly path?: true;
  /** A libpq connection string: never shown with a password, and none allowed in the file. */
  readonly conninfo?: true;
  /** Applied by a reload (SIGHUP, `pgwarden reload`) without a restart. */
  readonly reload?: true;
}

// The kinds of value most keys take, with what a refusal says they expect.
const PORT = { schema: port, expected: 'a port, a whole number from 0 to 65535' };
const COUNT = { schema: count, expected: 'a whole number' };
const SECONDS = { schema: seconds, expected: 'a positive number of seconds' };
const CLAIM = { schema: text, expected: 'a claim name' };
const BOOL = { schema: bool, expected: 'true or false' };
const PEM_FILE = { schema: path, expected: 'a PEM file', path: true } as const;

export const CONFIG_KEYS: Readonly<Record<string, ConfigKey>> = {
  'data-dir': { schema: path, expected: 'a directory', path: true },
  workers: { ...COUNT },
  citus: { ...BOOL },
  'postgres-bin': { schema: path, expected: 'a directory', path: true },
  coordinator: { schema: text, expected: 'a libpq connection string', conninfo: true },
  worker: { schema: list, expected: 'a libpq connection string, or a list of them', conninfo: true },
  host: { schema: text, expected: 'a host name or address' },
  port: { ...PORT },
  'tls-cert': { ...PEM_FILE, reload: true },
  'tls-key': { ...PEM_FILE, reload: true },
  'allow-plain-loopback': { ...BOOL },
  'auth-timeout': { ...SECONDS, reload: true },
  'auth-method': { schema: z.enum(AUTH_METHODS), expected: 'postgres, entra or both' },
  'max-pending-auth': { ...COUNT, reload: true },
  'max-connections': { ...COUNT, reload: true },
  'throttle-role-failures': { ...COUNT, reload: true },
  'throttle-address-failures': { ...COUNT, reload: true },
  'server-pool': { ...COUNT },
  'server-idle-timeout': { ...SECONDS },
  'server-wait-timeout': { ...SECONDS },
  'pool-port': { ...PORT },
  'pool-size': { ...COUNT },
  'pool-wait-timeout': { ...SECONDS },
  'oauth-port': { ...PORT },
  'oauth-scope': { schema: text, expected: 'a scope' },
  'drain-timeout': { ...SECONDS },
  'idp-port': { ...PORT },
  'entra-tenant': { schema: text, expected: 'a tenant id (a GUID)' },
  'entra-authority': { schema: url, expected: 'an https URL', reload: true },
  'entra-audience': { schema: list, expected: 'an audience URI, or a list of them', reload: true },
  'clock-skew': { schema: count.max(300), expected: 'a whole number of seconds from 0 to 300', reload: true },
  'oidc-issuer': {
    schema: z.union([oidcIssuer.transform((i) => [i]), z.array(oidcIssuer).min(1)]),
    expected: 'an issuer URL, or a list of them or of mappings (issuer, audience, name-claim, subject-claim, groups-claim, algorithm)',
  },
  'oidc-audience': { schema: list, expected: 'an audience, or a list of them' },
  'oidc-name-claim': { ...CLAIM },
  'oidc-subject-claim': { ...CLAIM },
  'oidc-groups-claim': { ...CLAIM },
  'oidc-algorithm': { schema: list, expected: 'an algorithm (RS256, ES256, EdDSA, ...), or a list of them' },
  'oidc-scope': { schema: text, expected: 'a scope, or several separated by spaces' },
  'oidc-ca-file': { ...PEM_FILE },
  'graph-client-id': { schema: text, expected: 'an application id (a GUID)' },
  'graph-client-secret-file': { schema: path, expected: 'a file', path: true },
  'graph-endpoint': { schema: url, expected: 'an https URL' },
  'portal-client-id': { schema: text, expected: 'an application id (a GUID)' },
  'portal-url': { schema: url, expected: 'a URL' },
  'api-host': { schema: text, expected: 'a host name or address' },
  'api-port': { ...PORT },
  'log-level': { schema: z.enum(LOG_LEVELS), expected: LOG_LEVELS.join(', '), reload: true },
};

/**
 * Secrets, each from its environment variable; in the file they are refused, naming it.
 * A password in `coordinator` or `worker` is refused the same way (libpq's PGPASSWORD).
 */
export const SECRETS: Readonly<Record<string, string>> = {
  'citus-password': 'PGWARDEN_CITUS_PASSWORD',
  'graph-client-secret': 'PGWARDEN_GRAPH_CLIENT_SECRET (or graph-client-secret-file)',
};

/** `max-connections` → `maxConnections`, as commander names the option's value. */
export function attributeOf(key: string): string {
  return key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** The known key closest to a misspelt one, when it is close (for "did you mean"). */
export function closestKey(key: string): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const known of Object.keys(CONFIG_KEYS)) {
    const d = distance(key.toLowerCase(), known);
    if (d <= Math.max(2, Math.floor(known.length / 4)) && (!best || d < best.distance)) best = { key: known, distance: d };
  }
  return best?.key;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}
