// Group membership for tokens that could not list their groups. Entra puts at most 200
// groups in a JWT; a subject in more gets a "groups overage" token: no `groups` claim,
// only `_claim_names`/`_claim_sources` pointing at Microsoft Graph. To let such a member
// sign in as a group's role, pgwarden asks the directory (Graph's checkMemberGroups, or
// the embedded provider's directory), and keeps the answer for a while: sign-ins must not
// wait on Graph each time, and a membership removed in the directory takes effect when
// the answer expires, as it does for a token that still lists the group until it expires.
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#groups-overage-claim

export interface GroupMembership {
  /** Whether `objectId` (a user or service principal) is a member of the group. */
  isMemberOf(objectId: string, groupObjectId: string): Promise<boolean>;
}

/** How long an answer is kept: a member, and not a member. */
export const MEMBER_TTL_MS = 5 * 60_000;
export const NOT_MEMBER_TTL_MS = 60_000;
/** Answers kept at most (then the oldest go first). */
const MAX_ANSWERS = 10_000;

/** A directory's membership answers, kept for a while; concurrent questions share one ask. */
export class CachedMembership implements GroupMembership {
  private readonly answers = new Map<string, { member: boolean; until: number }>();
  private readonly asking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly directory: GroupMembership,
    private readonly now: () => number = Date.now,
  ) {}

  isMemberOf(objectId: string, groupObjectId: string): Promise<boolean> {
    const key = `${objectId.toLowerCase()} ${groupObjectId.toLowerCase()}`;
    const kept = this.answers.get(key);
    if (kept && kept.until > this.now()) return Promise.resolve(kept.member);
    let pending = this.asking.get(key);
    if (!pending) {
      pending = this.directory.isMemberOf(objectId, groupObjectId).then(
        (member) => {
          this.asking.delete(key);
          this.answers.delete(key);
          if (this.answers.size >= MAX_ANSWERS) this.answers.delete(this.answers.keys().next().value!);
          this.answers.set(key, { member, until: this.now() + (member ? MEMBER_TTL_MS : NOT_MEMBER_TTL_MS) });
          return member;
        },
        (e: unknown) => {
          this.asking.delete(key);
          throw e;
        },
      );
      this.asking.set(key, pending);
    }
    return pending;
  }
}
