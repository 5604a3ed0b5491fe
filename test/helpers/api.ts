// Calls pgwarden's API as a real HTTPS client that trusts the local CA.
import { readFileSync } from 'node:fs';
import { httpRequestJson, type HttpResponse } from '../../src/util/http-client.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiResponse extends HttpResponse {
  // The API's JSON answer; tests look into it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

export interface ApiClient {
  /** `body`: an object is sent as JSON; a string or Buffer is sent as is (application/json). */
  call(method: Method, path: string, body?: unknown, auth?: string | null): Promise<ApiResponse>;
}

export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

export function apiClient(baseUrl: string, caPath: string, defaultAuth?: string): ApiClient {
  const ca = readFileSync(caPath, 'utf8');
  return {
    async call(method, path, body, auth) {
      const a = auth === undefined ? defaultAuth : auth;
      const res = await httpRequestJson(baseUrl + path, {
        method,
        ca,
        headers: a ? { authorization: a } : {},
        ...(typeof body === 'string' || Buffer.isBuffer(body)
          ? { raw: { contentType: 'application/json', data: body } }
          : body !== undefined
            ? { json: body }
            : {}),
        maxBytes: 16 * 1024 * 1024,
      });
      let data: unknown;
      try {
        data = res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined;
      } catch {
        data = res.body.toString('utf8');
      }
      return Object.assign(res, { data });
    },
  };
}
