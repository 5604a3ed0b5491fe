// `pgwarden config check FILE`: the configuration file checked as `up --config FILE` would,
// without starting anything. `pgwarden config show`: the settings `up` would run with,
// where each comes from, and secrets masked.
import { Command } from 'commander';
import { stringify } from 'yaml';
import { redact } from '../cluster/conninfo.js';
import { readConfigFile } from './config-file.js';
import { CONFIG_KEYS, SECRETS, attributeOf } from './config-keys.js';
import { addUpOptions } from './up-command.js';
import { checkUpOptions, upSettingsOf, type UpSettings } from './up-settings.js';

const MASK = '********';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description("pgwarden's configuration file (YAML; every option of `up` is a key)");
  config
    .command('check')
    .description('check a configuration file as `pgwarden up --config FILE` would, without starting anything')
    .argument('<file>', 'the YAML file')
    .action(async (file: string) => {
      const parsed = await readConfigFile(file);
      // `up --config FILE` with nothing else given: the file over the defaults and the environment.
      const up = addUpOptions(new Command('up')).exitOverride();
      up.parse(['--config', file], { from: 'user' });
      checkUpOptions((await upSettingsOf(up)).options);
      process.stdout.write(`${file}: valid (${parsed.values.size} setting${parsed.values.size === 1 ? '' : 's'})\n`);
    });
  addUpOptions(
    config.command('show').description('print the settings `pgwarden up` would run with (the same options), where each comes from, secrets masked'),
  ).action(async (_opts: unknown, cmd: Command) => {
    const settings = await upSettingsOf(cmd);
    checkUpOptions(settings.options);
    process.stdout.write(showSettings(settings));
  });
}

/** The settings as a configuration file would give them, each with its source. */
export function showSettings(settings: UpSettings): string {
  const where = { default: 'default', 'config file': settings.file ?? 'config file', env: 'environment', cli: 'command line' } as const;
  const options = settings.options as unknown as Record<string, unknown>;
  const lines = [`# pgwarden up: defaults, then ${settings.file ?? 'no configuration file'}, then the environment, then the command line`];
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    const attr = attributeOf(key);
    const value = options[attr];
    if (value === undefined) {
      lines.push(`# ${key}: (not set)`);
      continue;
    }
    const shown = spec.conninfo ? (Array.isArray(value) ? value.map((v: string) => redact(v)) : redact(value as string)) : value;
    lines.push(`${key}: ${yamlValue(shown)}  # ${where[settings.sources.get(attr) ?? 'default']}`);
  }
  const secrets: Array<[string, string | undefined]> = [
    ['citus-password', options.citusPassword as string | undefined],
    ['graph-client-secret', process.env.PGWARDEN_GRAPH_CLIENT_SECRET],
  ];
  for (const [key, value] of secrets) lines.push(`# ${key}: ${value ? MASK : '(not set)'}  (secret: ${SECRETS[key]})`);
  lines.push(`# PGPASSWORD: ${process.env.PGPASSWORD ? MASK : '(not set)'}  (secret: the password of coordinator and worker)`);
  return lines.join('\n') + '\n';
}

function yamlValue(value: unknown): string {
  return Array.isArray(value) ? `[${value.map((v) => yamlValue(v)).join(', ')}]` : stringify(value, { collectionStyle: 'flow' }).trimEnd();
}
