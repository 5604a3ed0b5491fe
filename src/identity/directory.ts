// Looking up Microsoft Entra objects by name, for adding admins and principals: the
// embedded identity provider's directory, or Microsoft Graph for a real tenant
// (src/identity/graph-directory.ts).
import type { PrincipalType } from '../catalog/principals.js';

export interface DirectoryEntry {
  readonly type: PrincipalType;
  readonly objectId: string;
  readonly displayName: string;
  /** Users: the UPN, which is also the name of their PostgreSQL role. */
  readonly userPrincipalName?: string | undefined;
  /** Service principals: the application (client) id. */
  readonly appId?: string | undefined;
}

export interface Directory {
  /** Entries whose display name, UPN or app id start with (or contain) `query`, case-insensitively. */
  search(query: string, types?: readonly PrincipalType[]): Promise<DirectoryEntry[]>;
  /** The objects of a type named exactly `name` (a user's UPN, else the display name),
   * where a search could miss them among many that start with it. Without it, search. */
  named?(name: string, type: PrincipalType): Promise<DirectoryEntry[]>;
}

/** The PostgreSQL role name of a directory entry: a user's UPN, else the display name. */
export function roleNameOf(e: DirectoryEntry): string {
  return e.type === 'user' ? (e.userPrincipalName ?? e.displayName) : e.displayName;
}
