// Configured token lifetimes: within 5 to 90 minutes, refused outside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { EmbeddedIdp } from '../../src/idp/embedded-idp.js';
import { ensureLocalTls } from '../../src/tls/certificates.js';
import { isPgwardenError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/log.js';
import { startIdp } from './helpers.js';
import { makeDataDir } from '../helpers/pgwarden.js';

test('a lifetime outside 5 to 90 minutes, or min > max, is refused at open', async () => {
  const dir = await makeDataDir();
  try {
    const tls = await ensureLocalTls(dir, []);
    for (const bad of [
      { min: 4, max: 10 },
      { min: 10, max: 91 },
      { min: 30, max: 20 },
      { min: Number.NaN, max: 10 },
    ]) {
      await assert.rejects(
        EmbeddedIdp.open({ dataDir: dir, tls, log: silentLogger(), tokenLifetimeMinutes: bad }),
        (e) => isPgwardenError(e, 'CONFIG_INVALID'),
        JSON.stringify(bad),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a configured lifetime of 5 minutes gives tokens of 5 minutes, v1 and v2', async () => {
  const t = await startIdp({ tokenLifetimeMinutes: { min: 5, max: 5 } });
  try {
    const sp = await t.idp.directory.addServicePrincipal({ displayName: 'app' });
    const form = { grant_type: 'client_credentials', client_id: sp.servicePrincipal.appId, client_secret: sp.secret };
    const r1 = (await t.post(`/${t.tenantId}/oauth2/token`, { ...form, resource: 'https://postgres.cosmos.azure.com' })).json<Record<string, string>>();
    assert.equal(r1.expires_in, '300');
    assert.equal(Number(r1.expires_on) - Number(r1.not_before), 300);
    const r2 = (await t.post(`/${t.tenantId}/oauth2/v2.0/token`, { ...form, scope: 'https://postgres.cosmos.azure.com/.default' })).json<{
      expires_in: number;
      access_token: string;
    }>();
    assert.equal(r2.expires_in, 300);
    const { payload } = await t.verify(r2.access_token, '2.0', 'https://postgres.cosmos.azure.com');
    assert.equal(payload.exp! - payload.iat!, 300);
  } finally {
    await t.destroy();
  }
});
