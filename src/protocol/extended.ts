// The extended-query messages whose statement names a transaction pool rewrites (Parse,
// Bind, Describe, Close), read and rebuilt from their framed bytes, and the answers it
// gives itself (ParseComplete, CloseComplete).
// https://www.postgresql.org/docs/current/protocol-message-formats.html
import { PgwardenError } from '../util/errors.js';

const EMPTY = Buffer.alloc(0);

function cstringEnd(frame: Buffer, from: number): number {
  const end = frame.indexOf(0, from);
  if (end < 0) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid message format: unterminated string');
  return end;
}

function frame(type: string, body: Buffer[]): Buffer {
  const len = body.reduce((n, b) => n + b.length, 4);
  const head = Buffer.allocUnsafe(5);
  head.write(type, 0, 1, 'latin1');
  head.writeInt32BE(len, 1);
  return Buffer.concat([head, ...body]);
}

/** Parse ('P'): the statement name, and the frame with another name. */
export function parseStatementName(frame: Buffer): string {
  return frame.toString('utf8', 5, cstringEnd(frame, 5));
}

/** What identifies a statement's definition: its query text and parameter types (the
 * Parse body after the name). */
export function parseDefinition(frame: Buffer): Buffer {
  return frame.subarray(cstringEnd(frame, 5) + 1);
}

export function buildParse(name: string, definition: Buffer): Buffer {
  return frame('P', [Buffer.from(name + '\0', 'utf8'), definition]);
}

/** Bind ('B'): the statement it binds. */
export function bindStatementName(frame: Buffer): string {
  const portalEnd = cstringEnd(frame, 5);
  return frame.toString('utf8', portalEnd + 1, cstringEnd(frame, portalEnd + 1));
}

export function renameBindStatement(frame: Buffer, name: string): Buffer {
  const portalEnd = cstringEnd(frame, 5);
  const stmtEnd = cstringEnd(frame, portalEnd + 1);
  return Buffer.concat([
    retype(frame, frame.length - (stmtEnd - portalEnd - 1) + Buffer.byteLength(name)),
    frame.subarray(5, portalEnd + 1),
    Buffer.from(name, 'utf8'),
    frame.subarray(stmtEnd),
  ]);
}

/** Describe ('D') or Close ('C'): 'S' for a statement or 'P' for a portal, and its name. */
export function target(frame: Buffer): { kind: 'S' | 'P'; name: string } {
  const kind = String.fromCharCode(frame[5] ?? 0);
  if (kind !== 'S' && kind !== 'P')
    throw new PgwardenError('PROTOCOL_VIOLATION', `invalid ${String.fromCharCode(frame[0]!)} message: unknown target "${kind}"`);
  return { kind, name: frame.toString('utf8', 6, cstringEnd(frame, 6)) };
}

export function buildTargetMessage(type: 'D' | 'C', kind: 'S' | 'P', name: string): Buffer {
  return frame(type, [Buffer.from(kind + name + '\0', 'utf8')]);
}

/** The header of `frame` for a new total length (type byte kept). */
function retype(frame: Buffer, totalLength: number): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = frame[0]!;
  head.writeInt32BE(totalLength - 1, 1);
  return head;
}

/** Simple Query ('Q'): its text. */
export function queryText(frame: Buffer): string {
  return frame.toString('utf8', 5, cstringEnd(frame, 5));
}

export function buildQuery(text: string): Buffer {
  return frame('Q', [Buffer.from(text + '\0', 'utf8')]);
}

export const PARSE_COMPLETE = frame('1', [EMPTY]);
export const CLOSE_COMPLETE = frame('3', [EMPTY]);
