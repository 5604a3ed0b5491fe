// A pooled client's named prepared statements, which are its own whichever server
// session runs them: each is prepared under a gateway name (a digest of its text and
// parameter types) on each session that needs it, once per session, at most
// `maxPrepared` per session (least recently used go first), as PgBouncer 1.21+ does with
// max_prepared_statements. A Parse of a statement the session has, and a Close (the
// statement stays prepared for whoever needs it next), are answered by the gateway; a
// Parse the gateway adds so that a Bind or Describe finds its statement is swallowed.
import { createHash } from 'node:crypto';
import {
  CLOSE_COMPLETE,
  PARSE_COMPLETE,
  bindStatementName,
  buildParse,
  buildTargetMessage,
  parseDefinition,
  parseStatementName,
  renameBindStatement,
  target,
} from '../../protocol/extended.js';
import type { Slot } from './expected-responses.js';
import type { PoolServer } from './pool.js';
import { refusal, sessionStateIn } from './session-state.js';

/** Sends `frame` (none: the gateway answers) to the current server, owing `slot`. */
export type Send = (frame: Buffer | undefined, slot: Slot) => void;

interface ClientStatement {
  readonly serverName: string;
  readonly definition: Buffer;
}

export class ClientStatements {
  private readonly byName = new Map<string, ClientStatement>();

  constructor(private readonly maxPrepared: number) {}

  /** Parse ('P'). A statement that would leak session state is replaced by its refusal. */
  parse(frame: Buffer, server: PoolServer, send: Send): void {
    const name = parseStatementName(frame);
    let definition = parseDefinition(frame);
    const textEnd = definition.indexOf(0);
    const leak = sessionStateIn(definition.toString('utf8', 0, Math.max(0, textEnd)));
    if (leak) definition = Buffer.concat([Buffer.from(refusal(leak) + '\0', 'utf8'), definition.subarray(textEnd + 1)]);
    if (name === '') return send(leak ? buildParse('', definition) : frame, { kind: 'parse' });
    const statement: ClientStatement = { serverName: serverName(definition), definition };
    this.byName.set(name, statement);
    if (server.prepared.has(statement.serverName)) {
      touch(server.prepared, statement.serverName);
      return send(undefined, { kind: 'parse', synthetic: PARSE_COMPLETE });
    }
    this.prepare(statement, server, send, false);
  }

  /** Bind ('B'), of the client's statement under the gateway's name. */
  bind(frame: Buffer, server: PoolServer, send: Send): void {
    const renamed = this.ensurePrepared(bindStatementName(frame), server, send);
    send(renamed ? renameBindStatement(frame, renamed) : frame, { kind: 'bind' });
  }

  /** Describe ('D') of a statement or a portal. */
  describe(frame: Buffer, server: PoolServer, send: Send): void {
    const t = target(frame);
    if (t.kind === 'P') return send(frame, { kind: 'describe-portal' });
    const renamed = this.ensurePrepared(t.name, server, send);
    send(renamed ? buildTargetMessage('D', 'S', renamed) : frame, { kind: 'describe-statement' });
  }

  /** Close ('C'): a named statement is forgotten by the client only. */
  close(frame: Buffer, send: Send): void {
    const t = target(frame);
    if (t.kind === 'S' && t.name !== '') {
      this.byName.delete(t.name);
      return send(undefined, { kind: 'close', synthetic: CLOSE_COMPLETE });
    }
    send(frame, { kind: 'close' });
  }

  /** The gateway name of the client's statement `name`, prepared on `server` first if needed. */
  private ensurePrepared(name: string, server: PoolServer, send: Send): string | undefined {
    const statement = name === '' ? undefined : this.byName.get(name);
    if (!statement) return undefined;
    if (server.prepared.has(statement.serverName)) touch(server.prepared, statement.serverName);
    else this.prepare(statement, server, send, true);
    return statement.serverName;
  }

  /** Prepares `statement` on `server`; its answer goes to the client unless the gateway
   * added the Parse itself (`swallow`). */
  private prepare(statement: ClientStatement, server: PoolServer, send: Send, swallow: boolean): void {
    const prepared = server.prepared;
    for (const oldest of prepared.keys()) {
      if (prepared.size < this.maxPrepared) break;
      prepared.delete(oldest);
      send(buildTargetMessage('C', 'S', oldest), { kind: 'close', swallow: true });
    }
    prepared.set(statement.serverName, true);
    send(buildParse(statement.serverName, statement.definition), { kind: 'parse', swallow, failed: () => prepared.delete(statement.serverName) });
  }
}

/** The gateway's name for a statement: the same text and parameter types, the same name
 * on every server session. */
function serverName(definition: Buffer): string {
  return `pgwarden_${createHash('sha256').update(definition).digest('hex').slice(0, 32)}`;
}

/** Marks `key` most recently used. */
function touch(map: Map<string, true>, key: string): void {
  map.delete(key);
  map.set(key, true);
}
