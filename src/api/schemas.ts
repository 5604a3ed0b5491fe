// The API's request and response shapes. The same schemas validate requests and
// generate the OpenAPI document (/api/v1/openapi.json), so the two cannot drift apart.
// Objects are strict: an unknown field is an error, not silently ignored.
import { z } from 'zod';
import { AUTH_METHODS, SESSION_EXPIRIES } from '../catalog/auth-method.js';
import { PRINCIPAL_TYPES } from '../catalog/principals.js';

export const RoleNameParam = z.strictObject({ name: z.string().min(1).max(256).describe('The role name (URL-encoded)') });

export const AuthMethod = z.enum(AUTH_METHODS).describe('postgres: PostgreSQL authentication only; entra: Microsoft Entra authentication only; both');

export const NodeOutcome = z.object({ node: z.string(), ok: z.boolean(), error: z.string().optional() });
const Nodes = z.array(NodeOutcome).describe('What happened on each worker; the coordinator changed in one transaction');

export const SessionExpiry = z
  .enum(SESSION_EXPIRIES)
  .describe('token: a session signed in with an access token ends when the token expires; never: it lives on (the default)');

export const Authentication = z.object({
  methods: AuthMethod,
  label: z.string(),
  sessionExpiry: SessionExpiry,
});
export const AuthenticationPut = z.strictObject({ methods: AuthMethod });
export const AuthenticationChanged = Authentication.extend({ previous: AuthMethod, nodes: Nodes });
export const SessionExpiryBody = z.strictObject({ sessionExpiry: SessionExpiry });
export const SessionExpiryChanged = SessionExpiryBody.extend({ previous: SessionExpiry });

const Guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID');

export const Principal = z.object({
  name: z.string(),
  type: z.enum(PRINCIPAL_TYPES),
  objectId: z.string().describe("Entra: the object id. Another issuer's: a user's subject, a group's value in the groups claim"),
  tenantId: z.string().optional().describe('Microsoft Entra principals: the tenant'),
  issuer: z.string().optional().describe("Another OpenID Connect issuer's principals: the issuer (absent: the Microsoft Entra tenant)"),
  appId: z.string().optional(),
  isAdmin: z.boolean(),
});
export const PrincipalList = z.object({ items: z.array(Principal) });
export const PrincipalPost = z.strictObject({
  name: z.string().min(1).max(256).describe('UPN for users; display name for service principals and groups'),
  objectId: Guid.optional().describe('Looked up in the directory when omitted'),
  type: z.enum(PRINCIPAL_TYPES).default('user'),
  appId: Guid.optional().describe('Service principals: the application (client) id'),
  issuer: z.url().max(1000).optional().describe('A configured OpenID Connect issuer (--oidc-issuer); absent: the Microsoft Entra tenant'),
  subject: z
    .string()
    .min(1)
    .max(255)
    .optional()
    .describe("With issuer: a user's subject claim (required), a group's value in the groups claim (default: the name)"),
});
export const AdminPost = PrincipalPost.extend({ type: z.enum(['user', 'servicePrincipal']).default('user') });
export const PrincipalChanged = Principal.extend({ nodes: Nodes });

export const Role = z.object({
  name: z.string(),
  builtIn: z.boolean(),
  canLogin: z.boolean(),
  memberOf: z.array(z.string()),
});
export const RoleList = z.object({ items: z.array(Role) });
export const RolePost = z.strictObject({
  name: z.string().min(1).max(256),
  password: z.string().min(1).max(1024),
});
export const PasswordPost = z.strictObject({ password: z.string().min(1).max(1024) });
export const RoleDeleteQuery = z.strictObject({ reassignTo: z.string().min(1).max(256).optional() });
export const RoleChanged = Role.extend({ nodes: Nodes });
export const NameChanged = z.object({ name: z.string(), nodes: Nodes });

export const ClusterNode = z.object({
  name: z.string(),
  kind: z.enum(['coordinator', 'worker']),
  state: z.enum(['up', 'down']),
  error: z.string().optional(),
  sync: z
    .object({
      state: z.enum(['in-sync', 'pending', 'unreachable']),
      pending: z.string().optional(),
      unreachableSince: z.string().optional(),
      lastPassAt: z.string().optional(),
      lastInSyncAt: z.string().optional(),
      drift: z.array(z.object({ kind: z.string(), subject: z.string() })),
      errors: z.array(z.string()),
    })
    .optional()
    .describe('Workers: how they compare with the coordinator (the reconciler)'),
});
export const Cluster = z.object({
  authentication: AuthMethod,
  mode: z.enum(['plain', 'citus']).optional(),
  nodes: z.array(ClusterNode),
});

export const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  kind: z.enum(['sign-in', 'change']).optional(),
});
export const AuditEntry = z.object({
  id: z.number(),
  at: z.string(),
  kind: z.string(),
  actor: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  method: z.string().nullable(),
  clientAddr: z.string().nullable(),
  result: z.string(),
  reason: z.string().nullable(),
});
export const AuditList = z.object({ items: z.array(AuditEntry) });

export const DirectoryQuery = z.strictObject({
  q: z.string().max(256).default(''),
  type: z.enum(['user', 'servicePrincipal', 'group', 'admin-candidates']).optional(),
});
export const DirectoryEntry = z.object({
  type: z.enum(PRINCIPAL_TYPES),
  objectId: z.string(),
  displayName: z.string(),
  userPrincipalName: z.string().optional(),
  appId: z.string().optional(),
  roleName: z.string(),
});
export const DirectoryList = z.object({ items: z.array(DirectoryEntry) });

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  code: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
