// CancelRequest routing. A client cancels a query by opening a new connection and
// sending the process id and secret key it received in BackendKeyData. The gateway gives
// every client a secret of its own, with the backend's real process id (clients compare
// it with the sender of a NOTIFY), and forwards a cancel only for a key it issued and
// still holds, with the backend's own secret: an unknown key is dropped, so the gateway
// cannot be used to spray cancel requests, and a client whose server connection went to
// another client can no longer cancel that client's queries.
import { randomBytes } from 'node:crypto';
import { sendCancel, type ServerKey } from './backend.js';

interface Owner {
  /** The backend the client's key stands for now (a pooled client's changes with each transaction). */
  backend: () => ServerKey | undefined;
}

export interface CancelKey {
  processId: number;
  secretKey: Buffer;
}

export class CancelRegistry {
  private readonly owners = new Map<string, Owner>();

  private static keyOf(processId: number, secretKey: Buffer): string {
    return `${processId}:${secretKey.toString('hex')}`;
  }

  /** Issues the client's key for a backend; the returned function withdraws it. */
  issue(backend: ServerKey): { key: CancelKey; withdraw: () => void } {
    return this.register({ processId: backend.processId, secretKey: randomBytes(backend.secretKey.length) }, { backend: () => backend });
  }

  /** Issues a key for a client of the transaction pool: its process id is made up (no
   * one backend is its own), and a cancel goes to whichever backend `current` names when
   * it arrives, if any. */
  issueRoute(current: () => ServerKey | undefined): { key: CancelKey; withdraw: () => void } {
    // Above Linux's largest process id (2^22), so never a backend's own.
    return this.register({ processId: 0x40000000 | (randomBytes(4).readUInt32BE(0) >>> 2), secretKey: randomBytes(4) }, { backend: current });
  }

  private register(key: CancelKey, owner: Owner): { key: CancelKey; withdraw: () => void } {
    const id = CancelRegistry.keyOf(key.processId, key.secretKey);
    this.owners.set(id, owner);
    return {
      key,
      withdraw: () => {
        if (this.owners.get(id) === owner) this.owners.delete(id);
      },
    };
  }

  /** Forwards the cancel to its owner; false if the key is unknown. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const owner = this.owners.get(CancelRegistry.keyOf(processId, secretKey));
    const backend = owner?.backend();
    if (!owner || !backend) return false;
    sendCancel(backend);
    return true;
  }

  get size(): number {
    return this.owners.size;
  }
}
