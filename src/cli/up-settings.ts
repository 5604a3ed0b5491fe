// The settings `pgwarden up` runs with: each option's default, then the configuration
// file's value, then the environment's, then the command line's (the last one given wins).
// A reload reads the file again and keeps what the environment and command line said.
import type { Command } from 'commander';
import { PgwardenError } from '../util/errors.js';
import { asOptionValues, readConfigFile } from './config-file.js';
import { parseConnInfo } from '../cluster/conninfo.js';
import type { AuthMethod } from '../catalog/auth-method.js';
import { oidcIssuerSpecs, type OidcOptions } from './oidc-options.js';

/** `pgwarden up`'s options, by commander's names for them. */
export interface UpOptions extends OidcOptions {
  config?: string;
  dataDir: string;
  workers?: number;
  citus?: boolean;
  postgresBin?: string;
  coordinator?: string;
  worker?: string[];
  host: string;
  port: number;
  citusPassword?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowPlainLoopback: boolean;
  authTimeout: number;
  authMethod: AuthMethod;
  maxPendingAuth: number;
  maxConnections: number;
  throttleRoleFailures: number;
  throttleAddressFailures: number;
  serverPool: number;
  serverIdleTimeout: number;
  serverWaitTimeout: number;
  poolPort?: number;
  poolSize: number;
  poolWaitTimeout: number;
  oauthPort?: number;
  oauthScope?: string;
  drainTimeout: number;
  apiHost: string;
  apiPort: number;
  idpPort: number;
  entraTenant?: string;
  entraAuthority: string;
  entraAudience?: string[];
  graphClientId?: string;
  graphClientSecretFile?: string;
  graphEndpoint: string;
  clockSkew: number;
  portalClientId?: string;
  portalUrl?: string;
  logLevel: string;
}

/** Where a setting's value came from: commander's own names, and the file. */
export type Source = 'default' | 'config file' | 'env' | 'cli';

export interface UpSettings {
  readonly options: UpOptions;
  /** The configuration file, when given. */
  readonly file: string | undefined;
  /** By option attribute (`maxConnections`); unset options have none. */
  readonly sources: ReadonlyMap<string, Source>;
  /** The settings with the file read again (for a reload); throws as a start would. */
  reread(): Promise<UpSettings>;
}

export async function upSettingsOf(command: Command): Promise<UpSettings> {
  const given = command.opts<Record<string, unknown>>();
  if (command.getOptionValueSource('citusPassword') === 'cli') {
    throw new PgwardenError('CONFIG_INVALID', "--citus-password on the command line would show in `ps`; set PGWARDEN_CITUS_PASSWORD in pgwarden's environment");
  }
  for (const option of ['coordinator', 'worker'] as const) {
    const value = given[option] as string | string[] | undefined;
    if (command.getOptionValueSource(option) !== 'cli' || value === undefined) continue;
    if ((Array.isArray(value) ? value : [value]).some((c) => parseConnInfo(c).password !== undefined)) {
      throw new PgwardenError('CONFIG_INVALID', `--${option}: a password on the command line would show in \`ps\`; set PGPASSWORD in pgwarden's environment`);
    }
  }
  const defaults = new Map<string, unknown>();
  const fixed = new Map<string, { value: unknown; source: Source }>();
  for (const option of command.options) {
    const attr = option.attributeName();
    const source = command.getOptionValueSource(attr) as Source | undefined;
    if (option.defaultValue !== undefined) defaults.set(attr, option.defaultValue);
    if (source === 'cli' || source === 'env') fixed.set(attr, { value: given[attr], source });
  }
  const file = given.config as string | undefined;
  const settle = async (): Promise<UpSettings> => {
    const fromFile = file === undefined ? new Map<string, unknown>() : asOptionValues(await readConfigFile(file));
    const options: Record<string, unknown> = {};
    const sources = new Map<string, Source>();
    const put = (attr: string, value: unknown, source: Source): void => {
      options[attr] = value;
      sources.set(attr, source);
    };
    for (const [attr, value] of defaults) put(attr, value, 'default');
    for (const [attr, value] of fromFile) put(attr, value, 'config file');
    for (const [attr, { value, source }] of fixed) put(attr, value, source);
    return { options: options as unknown as UpOptions, file, sources, reread: settle };
  };
  return settle();
}

/** The combinations of options that `up` refuses (also `pgwarden config check`). */
export function checkUpOptions(opts: UpOptions): void {
  if (opts.worker && !opts.coordinator) throw new PgwardenError('CONFIG_INVALID', '--worker goes with --coordinator (an existing cluster)');
  if (opts.coordinator && (opts.citus || opts.postgresBin)) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      '--citus and --postgres-bin are for the embedded cluster; pgwarden finds Citus on an existing coordinator itself',
    );
  }
  if (opts.coordinator && opts.workers !== undefined)
    throw new PgwardenError('CONFIG_INVALID', '--workers is for the embedded cluster; an existing cluster takes --worker CONNINFO for each worker');
  oidcIssuerSpecs(opts);
  if ((opts.graphClientId || opts.graphClientSecretFile || graphSecretFromEnv()) && !opts.entraTenant) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      '--graph-client-id and --graph-client-secret-file (PGWARDEN_GRAPH_CLIENT_SECRET_FILE, PGWARDEN_GRAPH_CLIENT_SECRET) ' +
        'are for a real tenant (--entra-tenant); the embedded provider has its own directory',
    );
  }
}

/** The Graph application's secret itself, from the environment (instead of a file). */
export function graphSecretFromEnv(): string | undefined {
  return process.env.PGWARDEN_GRAPH_CLIENT_SECRET?.trim() || undefined;
}
