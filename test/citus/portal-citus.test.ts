// The portal on a Citus cluster (`pgwarden up --citus`), in a real browser: a native role
// added, its password reset and the role deleted from the Authentication page, each
// checked on every node with psql's view of pg_authid (one verifier everywhere; gone
// everywhere).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { CITUS_PASSWORD, psql, waitFor } from '../helpers/pgwarden.js';
import { launchBrowser, newContext, PageErrors, startPortalEnv, type PortalEnv } from '../portal/helpers.js';
import { CITUS_BIN, onEveryNode, skipWithoutCitus } from '../helpers/citus.js';

const ROLE = 'report user';
const FIRST = 'Report-User-Passw0rd-1';
const SECOND = 'Report-User-Passw0rd-2';

describe('the portal on Citus', { skip: skipWithoutCitus }, () => {
  let env: PortalEnv;
  let browser: Browser;
  let page: Page;
  const errors = new PageErrors();

  before(async () => {
    env = await startPortalEnv({ authMethod: 'postgres', pgwarden: { citus: true, postgresBin: CITUS_BIN } });
    browser = await launchBrowser();
    page = await (await newContext(browser)).newPage();
    errors.watch(page);
  });
  after(async () => {
    await browser?.close();
    await env?.destroy();
  });

  const verifiers = async () =>
    Object.values(await onEveryNode<{ v: string }>(env.pg, 'SELECT rolpassword AS v FROM pg_authid WHERE rolname = $1', [ROLE])).map((r) => r[0]?.v);
  const save = async (): Promise<string> => {
    await page.getByRole('toolbar').getByRole('button', { name: 'Save', exact: true }).click();
    const heading = page.locator('#results-heading');
    await heading.waitFor();
    return heading.innerText();
  };

  test('sign in as citus; the nodes of the Citus cluster are listed', async () => {
    await page.goto(`${env.url}/`);
    await page.getByLabel('Password of citus').fill(CITUS_PASSWORD);
    await page.getByLabel('Password of citus').press('Enter');
    await page.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor();
    await page.getByRole('rowheader', { name: 'worker-2' }).waitFor();
  });

  test('Add PostgreSQL role, Save: the role is on every node with one verifier, and signs in', async () => {
    await page.getByRole('button', { name: 'Add PostgreSQL role' }).click();
    const panel = page.getByRole('dialog', { name: 'Add PostgreSQL role' });
    await panel.getByLabel('Role name').fill(ROLE);
    await panel.getByLabel('Password', { exact: true }).fill(FIRST);
    await panel.getByLabel('Confirm password').fill(FIRST);
    await panel.getByRole('button', { name: 'Save', exact: true }).click();
    await panel.waitFor({ state: 'detached' });
    assert.equal(await save(), 'Saved: 1 change applied on every node');
    const v = await verifiers();
    assert.equal(v.length, 3);
    assert.ok(v[0]);
    assert.equal(new Set(v).size, 1);
    const r = await psql(env.pg.conn(ROLE), 'SELECT current_user', FIRST);
    assert.equal(r.stdout.trim(), ROLE, r.stderr);
  });

  test('Reset password from its menu, Save: a new verifier, the same on every node', async () => {
    const before = await verifiers();
    await page.getByRole('button', { name: `More actions for ${ROLE}` }).click();
    await page.getByRole('menuitem', { name: 'Reset password' }).click();
    const panel = page.getByRole('dialog', { name: 'Reset password' });
    await panel.getByLabel('New password').fill(SECOND);
    await panel.getByLabel('Confirm password').fill(SECOND);
    await panel.getByLabel('Confirm password').press('Enter');
    await panel.waitFor({ state: 'detached' });
    assert.equal(await save(), 'Saved: 1 change applied on every node');
    const after = await verifiers();
    assert.equal(new Set(after).size, 1);
    assert.notEqual(after[0], before[0]);
    assert.match((await psql(env.pg.conn(ROLE), 'SELECT 1', FIRST)).stderr, /password authentication failed/);
  });

  test('Delete from its menu, Save: the role is gone from every node', async () => {
    await page.getByRole('button', { name: `More actions for ${ROLE}` }).click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    assert.equal(await save(), 'Saved: 1 change applied on every node');
    await waitFor(async () => (await verifiers()).every((v) => v === undefined), 5_000, 'the role to be gone everywhere');
    assert.deepEqual(errors.errors, []);
  });
});
