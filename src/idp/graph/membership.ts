// Graph's membership actions on a directory object: checkMemberGroups (which of these
// groups is it a member of?) and getMemberObjects (all its groups: where a token's groups
// overage points). Pure: a directory snapshot, the object's path and the request body in,
// the `value` array out; refusals are thrown (graph/errors.ts).
// https://learn.microsoft.com/graph/api/directoryobject-checkmembergroups
// https://learn.microsoft.com/graph/api/directoryobject-getmemberobjects
import { isGuid } from '../../util/guid.js';
import { findUser, groupsOf } from '../lookups.js';
import type { DirectoryData } from '../model.js';
import { graphRefuse } from './errors.js';

/** The object collections the actions are bound to: `/users/{id}/...` answers for users
 * only, `/servicePrincipals/{id}/...` for service principals, `/directoryObjects/{id}/...`
 * for any object (a user, a service principal or a group). */
export type MemberCollection = 'users' | 'servicePrincipals' | 'directoryObjects';
export const MEMBER_COLLECTIONS: readonly MemberCollection[] = ['users', 'servicePrincipals', 'directoryObjects'];

export type MemberAction = 'checkMemberGroups' | 'getMemberObjects';

/** Graph takes at most 20 group ids in one checkMemberGroups. */
export const MAX_GROUP_IDS = 20;

/** How much of a caller's value a message repeats. */
const ECHO = 100;

/** The object id of `id` in `collection`, or a 404 as Graph words it. Users are also
 * found by user principal name (`/users/{id | userPrincipalName}`, as Graph). Ids are
 * GUIDs, compared case-insensitively. */
export function resolveMemberObject(data: DirectoryData, collection: MemberCollection, id: string): string {
  const lower = id.toLowerCase();
  const found =
    collection === 'users'
      ? findUser(data, id)?.objectId
      : collection === 'servicePrincipals'
        ? data.servicePrincipals.find((s) => s.objectId === lower)?.objectId
        : [...data.users, ...data.servicePrincipals, ...data.groups].find((o) => o.objectId === lower)?.objectId;
  if (!found) throw graphRefuse.notFound(id.slice(0, ECHO));
  return found;
}

/** The body of an action: a JSON object with exactly the action's parameter. */
function bodyObject(action: MemberAction, parameter: string, body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || (typeof body === 'string' && body.trim() === '')) {
    throw graphRefuse.badRequest(`The request body is missing: ${action} takes a JSON object with '${parameter}'.`);
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw graphRefuse.badRequest(`The request body must be a JSON object with '${parameter}'.`);
  }
  const record = body as Record<string, unknown>;
  const other = Object.keys(record).find((k) => k !== parameter);
  if (other !== undefined) {
    throw graphRefuse.badRequest(
      `The parameter '${other.slice(0, ECHO)}' in the request payload is not a valid parameter for the operation '${action}'; it takes '${parameter}' only.`,
    );
  }
  if (!(parameter in record)) throw graphRefuse.badRequest(`The parameter '${parameter}' is missing from the request body of '${action}'.`);
  return record;
}

/** `{"groupIds": [GUID, ...]}`: 1 to 20 GUIDs, returned lower-cased, duplicates once. */
export function parseCheckMemberGroups(body: unknown): string[] {
  const { groupIds } = bodyObject('checkMemberGroups', 'groupIds', body);
  if (!Array.isArray(groupIds)) throw graphRefuse.badRequest("'groupIds' must be an array of group ids (GUIDs).");
  if (groupIds.length < 1 || groupIds.length > MAX_GROUP_IDS) {
    throw graphRefuse.badRequest(`'groupIds' must hold 1 to ${MAX_GROUP_IDS} group ids; it holds ${groupIds.length}.`);
  }
  const ids: string[] = [];
  groupIds.forEach((g: unknown, i) => {
    if (!isGuid(g)) {
      const shown = typeof g === 'string' ? `'${g.slice(0, ECHO)}'` : (JSON.stringify(g)?.slice(0, ECHO) ?? String(g));
      throw graphRefuse.badRequest(`'groupIds' item ${i} is not a GUID: ${shown}.`);
    }
    const id = g.toLowerCase();
    if (!ids.includes(id)) ids.push(id);
  });
  return ids;
}

/** `{"securityEnabledOnly": true | false}`. Every group here is a security group (there
 * are no Microsoft 365 groups or directory roles), so both answer the same. */
export function parseGetMemberObjects(body: unknown): boolean {
  const { securityEnabledOnly } = bodyObject('getMemberObjects', 'securityEnabledOnly', body);
  if (typeof securityEnabledOnly !== 'boolean') throw graphRefuse.badRequest("'securityEnabledOnly' must be true or false.");
  return securityEnabledOnly;
}

/** The groups of `groupIds` that `objectId` is a member of, in the order given. Groups
 * hold users and service principals only (never groups), so membership is direct, which
 * is all there is to transitive membership here; the same groups a token's `groups` claim
 * lists. */
export function checkMemberGroups(data: DirectoryData, objectId: string, groupIds: readonly string[]): string[] {
  const member = new Set(groupsOf(data, objectId));
  return groupIds.filter((g) => member.has(g));
}

/** All the groups `objectId` is a member of, as the `groups` claim would list them. */
export function getMemberObjects(data: DirectoryData, objectId: string): string[] {
  return groupsOf(data, objectId);
}
