// A small HTTPS client for talking to identity providers: discovery documents, key sets,
// token endpoints. Written on node:https rather than fetch because Node 20's fetch cannot
// be told to trust one extra CA (the embedded provider's) without a second HTTP stack,
// and because every answer must be bounded in time and in size.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { PgwardenError } from './errors.js';

export interface HttpRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** application/x-www-form-urlencoded body. */
  form?: Record<string, string>;
  /** JSON body. */
  json?: unknown;
  /** Any other body, sent as is. */
  raw?: { contentType: string; data: Buffer | string };
  headers?: Record<string, string>;
  /** Extra CA certificates to trust (PEM), besides the system's. */
  ca?: string | undefined;
  /** Whole request, connect to last byte (default 10 s). */
  timeoutMs?: number;
  /** Largest body accepted (default 1 MiB). */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;

export function httpRequestJson(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    return Promise.reject(new PgwardenError('CONFIG_INVALID', `unsupported URL scheme in ${u.origin}`));
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let payload: Buffer | undefined;
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.form) {
    payload = Buffer.from(new URLSearchParams(options.form).toString());
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (options.json !== undefined) {
    payload = Buffer.from(JSON.stringify(options.json));
    headers['content-type'] = 'application/json';
  } else if (options.raw) {
    payload = Buffer.from(options.raw.data);
    headers['content-type'] = options.raw.contentType;
  }
  if (payload) headers['content-length'] = String(payload.length);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: options.method ?? (payload ? 'POST' : 'GET'),
        headers,
        ...(options.ca && u.protocol === 'https:' ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            req.destroy(new PgwardenError('BACKEND_UNAVAILABLE', `the answer from ${u.origin} is larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: () => body.toString('utf8'),
            json: <T>() => {
              try {
                return JSON.parse(body.toString('utf8')) as T;
              } catch {
                throw new PgwardenError('BACKEND_UNAVAILABLE', `${u.origin} answered with something that is not JSON`);
              }
            },
          });
        });
        res.on('error', (e) => reject(e));
      },
    );
    const timer = setTimeout(() => req.destroy(new PgwardenError('BACKEND_UNAVAILABLE', `${u.origin} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof PgwardenError ? e : new PgwardenError('BACKEND_UNAVAILABLE', `cannot reach ${u.origin}: ${e.message}`, { cause: e }));
    });
    req.end(payload);
  });
}

/** An OAuth error answer's `error_description` as one line: Entra's text without its
 * trace, correlation and timestamp lines (`HTTP <status>` when there is none). */
export function oauthErrorDescription(body: Record<string, unknown>, status: number): string {
  return typeof body.error_description === 'string' ? body.error_description.split(/\s*(?:\r?\n|Trace ID:)/)[0]! : `HTTP ${status}`;
}
