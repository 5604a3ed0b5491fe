// SASLprep (RFC 4013) as PostgreSQL applies it to SCRAM passwords
// (src/common/saslprep.c): pure ASCII passes unchanged, and a password that SASLprep
// refuses (prohibited or unassigned characters, invalid bidi) is used as it is. The
// server, libpq and pgwarden must all agree, or a verifier computed here would not match
// what a client proves.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const prep = require('@mongodb-js/saslprep') as (input: string, opts?: { allowUnassigned?: boolean }) => string;

export function saslPrep(password: string): string {
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  try {
    return prep(password);
  } catch {
    return password;
  }
}
