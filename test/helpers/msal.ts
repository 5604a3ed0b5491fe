// What an application using Microsoft's MSAL needs to talk to the embedded provider.
import { request } from 'node:https';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

/** MSAL's default HTTP client trusts only the system CAs (NODE_EXTRA_CA_CERTS is read at
 * process start only); this one also trusts the provider's CA. */
export class LocalCaNetworkClient implements INetworkModule {
  constructor(private readonly ca: string) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private send<T>(method: string, url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, ca: this.ca, headers: options?.headers ?? {} }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
            body: (text ? JSON.parse(text) : {}) as T,
          }),
        );
      });
      req.on('error', reject);
      req.end(options?.body);
    });
  }
}
