// pgwarden's command line. Each command lives in its own file; this one wires them to
// commander and turns errors into one line and a documented exit code (docs/cli.md).
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { isPgwardenError } from '../util/errors.js';
import { registerUpCommand } from './up-command.js';
import { registerConfigCommands } from './config-command.js';
import { registerReloadCommand } from './reload.js';
import { registerManageCommands } from './manage.js';
import { registerIdpCommands } from './idp.js';
import { registerLoginCommands } from './login.js';
import { registerAccountCommands } from './account.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('pgwarden')
    .description('Microsoft Entra ID and native PostgreSQL role sign-in for any PostgreSQL cluster')
    .version(pkg.version)
    .showHelpAfterError();

  registerUpCommand(program);
  registerConfigCommands(program);
  registerReloadCommand(program);
  registerManageCommands(program);
  registerIdpCommands(program);
  registerLoginCommands(program);
  registerAccountCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (isPgwardenError(e)) {
      process.stderr.write(`pgwarden: ${e.message}${e.detail ? ` (${e.detail})` : ''}\n`);
      process.exitCode = e.kind.exit;
    } else {
      process.stderr.write(`pgwarden: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  }
}
