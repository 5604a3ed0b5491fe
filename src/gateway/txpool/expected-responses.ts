// What the server owes the client, in order. Each client message that PostgreSQL answers
// gets a slot when it is sent; the server's messages complete the slots one by one. A
// slot can also be answered by the gateway itself (a Parse of a statement the server
// session already has: ParseComplete; a Close of a named statement it keeps: CloseComplete),
// which the client gets exactly where PostgreSQL's answer would have been, or have its
// answer swallowed (a Parse the gateway added so that the client's Bind finds its
// statement). After an error in an extended-protocol message PostgreSQL skips everything
// up to the next Sync, and so do the slots.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY

export type SlotKind = 'parse' | 'bind' | 'describe-statement' | 'describe-portal' | 'execute' | 'close' | 'sync' | 'query' | 'function';

export interface Slot {
  readonly kind: SlotKind;
  /** Answered by the gateway with these bytes; nothing is sent to the server for it. */
  readonly synthetic?: Buffer;
  /** PostgreSQL's answer is not for the client (a Parse the gateway added). */
  readonly swallow?: boolean;
  /** Called when PostgreSQL refused or skipped the message. */
  readonly failed?: () => void;
}

const ASYNC = new Set(['N'.charCodeAt(0), 'A'.charCodeAt(0), 'S'.charCodeAt(0)]);
const ERROR = 'E'.charCodeAt(0);
const READY = 'Z'.charCodeAt(0);

/** The server messages that end a slot of each kind (ErrorResponse ends any). */
const ENDS: Record<SlotKind, string> = {
  parse: '1',
  bind: '2',
  close: '3',
  'describe-statement': 'Tn',
  'describe-portal': 'Tn',
  execute: 'CIs',
  sync: 'Z',
  query: 'Z',
  function: 'Z',
};
const ENDS_CODES: Record<SlotKind, number[]> = Object.fromEntries(Object.entries(ENDS).map(([k, v]) => [k, [...v].map((c) => c.charCodeAt(0))])) as Record<
  SlotKind,
  number[]
>;

export class ExpectedResponses {
  private readonly slots: Slot[] = [];
  private head = 0;
  /** The transaction status of the last ReadyForQuery ('I', 'T' or 'E'). */
  status = 'I'.charCodeAt(0);

  constructor(private readonly toClient: (bytes: Buffer) => void) {}

  /** Nothing is owed. */
  get empty(): boolean {
    return this.head === this.slots.length;
  }

  add(slot: Slot): void {
    this.slots.push(slot);
    this.answerOwnSlots();
  }

  /** Sees one whole server message, and passes it on to the client (or not), followed by
   * the answers of the gateway's own slots that are next in line. */
  fromServer(type: number, frame: Buffer): void {
    if (ASYNC.has(type)) return this.toClient(frame);
    const slot = this.slots[this.head];
    if (!slot) return this.toClient(frame); // owed nothing (a FATAL error before the server closes)
    if (type === READY) this.status = frame[5] ?? 0;
    if (type === ERROR) {
      this.toClient(frame);
      slot.failed?.();
      // A simple query (or function call) still ends with ReadyForQuery; an extended
      // message's error makes PostgreSQL skip to the next Sync.
      if (slot.kind !== 'query' && slot.kind !== 'function') {
        this.next();
        while (this.head < this.slots.length && this.slots[this.head]!.kind !== 'sync') {
          this.slots[this.head]!.failed?.();
          this.next();
        }
      }
      return;
    }
    if (!slot.swallow) this.toClient(frame);
    if (ENDS_CODES[slot.kind].includes(type)) {
      this.next();
      this.answerOwnSlots();
    }
  }

  private next(): void {
    this.head++;
    if (this.head === this.slots.length) {
      this.slots.length = 0;
      this.head = 0;
    }
  }

  /** Slots the gateway answers, once they are first in line. */
  private answerOwnSlots(): void {
    for (let slot = this.slots[this.head]; slot?.synthetic; slot = this.slots[this.head]) {
      this.toClient(slot.synthetic);
      this.next();
    }
  }
}
