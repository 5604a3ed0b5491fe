// Talking to the control plane from the page: same origin, the session cookie goes along
// by itself; every change carries the session's CSRF token. Failures are RFC 9457 problems:
// their `detail` is what the page shows.
import type { AuthMethod, ClusterState, DirectoryEntry, NodeOutcome, Principal, Role, SessionExpiry, SessionInfo } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type Listener = (error: ApiError) => void;

export class Api {
  private csrf: { header: string; token: string } | undefined;
  private readonly signedOutListeners = new Set<Listener>();

  setCsrf(header: string, token: string): void {
    this.csrf = { header, token };
  }

  clearCsrf(): void {
    this.csrf = undefined;
  }

  /** Called when a request answers 401: the session ended (expired, or signed out elsewhere). */
  onSignedOut(listener: Listener): () => void {
    this.signedOutListeners.add(listener);
    return () => this.signedOutListeners.delete(listener);
  }

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers[this.csrf.header] = this.csrf.token;
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new ApiError(0, 'pgwarden did not answer. Check that it is running, then try again.', undefined);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const problem = (data ?? {}) as { detail?: unknown; title?: unknown; code?: unknown };
      const message =
        typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : `pgwarden answered ${res.status}.`;
      const error = new ApiError(res.status, message, typeof problem.code === 'string' ? problem.code : undefined);
      if (res.status === 401 && !path.startsWith('/portal/')) for (const l of this.signedOutListeners) l(error);
      throw error;
    }
    return data as T;
  }

  // The portal's own routes
  session = () => this.request<SessionInfo>('GET', '/portal/session');
  signInCitus = (password: string) => this.request<{ signedIn: true }>('POST', '/portal/session', { password });
  signOut = () => this.request<void>('DELETE', '/portal/session');

  // The API (/api/v1)
  authentication = () => this.request<{ methods: AuthMethod; label: string; sessionExpiry: SessionExpiry }>('GET', '/api/v1/authentication');
  setSessionExpiry = (sessionExpiry: SessionExpiry) =>
    this.request<{ sessionExpiry: SessionExpiry; previous: SessionExpiry }>('PUT', '/api/v1/authentication/session-expiry', { sessionExpiry });
  setAuthentication = (methods: AuthMethod) => this.request<{ methods: AuthMethod; nodes: NodeOutcome[] }>('PUT', '/api/v1/authentication', { methods });
  admins = () => this.request<{ items: Principal[] }>('GET', '/api/v1/entra-admins');
  addAdmin = (admin: { name: string; type: 'user' | 'servicePrincipal'; objectId?: string; appId?: string }) =>
    this.request<Principal & { nodes: NodeOutcome[] }>('POST', '/api/v1/entra-admins', admin);
  removeAdmin = (name: string) => this.request<{ name: string; nodes: NodeOutcome[] }>('DELETE', `/api/v1/entra-admins/${encodeURIComponent(name)}`);
  roles = () => this.request<{ items: Role[] }>('GET', '/api/v1/roles');
  addRole = (name: string, password: string) => this.request<Role & { nodes: NodeOutcome[] }>('POST', '/api/v1/roles', { name, password });
  deleteRole = (name: string) => this.request<{ name: string; nodes: NodeOutcome[] }>('DELETE', `/api/v1/roles/${encodeURIComponent(name)}`);
  resetPassword = (name: string, password: string) =>
    this.request<{ name: string; nodes: NodeOutcome[] }>('POST', `/api/v1/roles/${encodeURIComponent(name)}/reset-password`, { password });
  cluster = () => this.request<ClusterState>('GET', '/api/v1/cluster');
  directory = (q: string) => this.request<{ items: DirectoryEntry[] }>('GET', `/api/v1/directory?type=admin-candidates&q=${encodeURIComponent(q)}`);
}

export const api = new Api();
