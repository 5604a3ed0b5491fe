// CancelRequest routing. A client cancels a query by opening a new connection and
// sending the process id and secret key it received in BackendKeyData. The gateway gives
// every client a secret of its own, with the backend's real process id (clients compare
// it with the sender of a NOTIFY), and forwards a cancel only for a key it issued and
// still holds, with the backend's own secret: an unknown key is dropped, so the gateway
// cannot be used to spray cancel requests, and a client whose server connection went to
// another client can no longer cancel that client's queries.
import { randomBytes } from 'node:crypto';
import { buildCancelRequest } from '../protocol/startup.js';
import { sendCancel } from './backend.js';
import type { BackendTarget } from '../cluster/cluster.js';

interface Owner {
  target: BackendTarget;
  backendSecret: Buffer;
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
  issue(backend: CancelKey, target: BackendTarget): { key: CancelKey; withdraw: () => void } {
    const key = { processId: backend.processId, secretKey: randomBytes(backend.secretKey.length) };
    const id = CancelRegistry.keyOf(key.processId, key.secretKey);
    const owner = { target, backendSecret: backend.secretKey };
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
    if (!owner) return false;
    sendCancel(owner.target, buildCancelRequest(processId, owner.backendSecret));
    return true;
  }

  get size(): number {
    return this.owners.size;
  }
}
