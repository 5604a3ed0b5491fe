// GUIDs as Microsoft Entra writes object, application and tenant ids.
import { PgwardenError } from './errors.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}

/** The GUID in lower case, or an INVALID_INPUT error that names `what`. */
export function checkGuid(value: unknown, what: string): string {
  if (!isGuid(value)) throw new PgwardenError('INVALID_INPUT', `${what} must be a GUID like 00000000-0000-0000-0000-000000000000`);
  return value.toLowerCase();
}
