// CancelRequest routing. A client cancels a query by opening a new connection and
// sending the process id and secret key it received in BackendKeyData. The gateway
// forwards the key unchanged to the backend that issued it, and only keys it has seen:
// an unknown key is dropped, so the gateway cannot be used to spray cancel requests.
import { buildCancelRequest } from '../protocol/startup.js';
import { sendCancel, type BackendTarget } from './backend.js';

export class CancelRegistry {
  private readonly owners = new Map<string, BackendTarget>();

  private static keyOf(processId: number, secretKey: Buffer): string {
    return `${processId}:${secretKey.toString('hex')}`;
  }

  register(processId: number, secretKey: Buffer, target: BackendTarget): () => void {
    const key = CancelRegistry.keyOf(processId, secretKey);
    this.owners.set(key, target);
    return () => {
      if (this.owners.get(key) === target) this.owners.delete(key);
    };
  }

  /** Forwards the cancel to its owner; false if the key is unknown. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const target = this.owners.get(CancelRegistry.keyOf(processId, secretKey));
    if (!target) return false;
    sendCancel(target, buildCancelRequest(processId, secretKey));
    return true;
  }

  get size(): number {
    return this.owners.size;
  }
}
