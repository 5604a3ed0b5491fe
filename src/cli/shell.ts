// Words of the command lines pgwarden prints for people to paste into a POSIX shell (the
// start banner, the hints in errors): as they are when the shell reads them unchanged,
// else in single quotes.

/** `word`, quoted for sh/bash when it needs to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
