// Request parameters as the OAuth endpoints take them: one string per name. A name given
// twice is refused (RFC 6749 section 3.1: "Request and response parameters MUST NOT be
// included more than once"), which also rules out parameter-pollution tricks.
import { refuse } from '../oauth-errors.js';

export function singleParams(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!input || typeof input !== 'object') return out;
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    if (Array.isArray(value)) throw refuse.duplicateParameter(name.slice(0, 50));
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}
