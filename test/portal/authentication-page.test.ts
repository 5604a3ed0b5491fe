// The seed's procedure in a real browser (Debian's chromium through playwright-core),
// against a real pgwarden: sign in as citus; choose both methods; add Microsoft Entra
// admins from the selection panel; add the PostgreSQL role db_user; Save; sign in with
// psql as db_user and as the new admin with a token; reset db_user's password from its
// menu; delete it; see that citus offers no Delete; switch to Entra only and see psql
// refuse citus; sign in to the portal with the identity provider. Every step writes a
// screenshot to docs/portal/. A page error or console error fails the test, and no
// password or token may be on the page once it was entered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Locator, Page, Route } from 'playwright-core';
import { CITUS_PASSWORD, psql, waitFor } from '../helpers/pgwarden.js';
import { savedAdmin, userToken, type SavedAdmin } from '../helpers/entra.js';
import { launchBrowser, newContext, PageErrors, startPortalEnv, type PortalEnv } from './helpers.js';

// The screenshots in docs/ are refreshed on request (PORTAL_SCREENSHOTS=docs); an
// ordinary run writes them to test-output/, so that tests leave the tree as it was.
const SHOTS = new URL(process.env.PORTAL_SCREENSHOTS === 'docs' ? '../../docs/portal/' : '../../test-output/portal/', import.meta.url).pathname;
const DB_USER = 'db_user';
const DB_USER_PASSWORD = 'Db-User-Passw0rd!';
const DB_USER_NEW_PASSWORD = 'Fresh-Passw0rd-42';
const DBA_PASSWORD = 'Dba-Passw0rd-1';
const READER_PASSWORD = 'Reader-Passw0rd-1';

let env: PortalEnv;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: PageErrors;
let first: SavedAdmin;
let dba: string;
/** Every secret typed into or obtained for the page: none may ever be on it. */
const secrets: string[] = [CITUS_PASSWORD];

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  env = await startPortalEnv({ authMethod: 'postgres' });
  first = await savedAdmin(env.pg);
  secrets.push(first.password);
  dba = `dba@${env.pg.idp!.tenantDomain}`;
  await env.pg.idp!.directory.addUser({ userPrincipalName: dba, displayName: 'Database Admin', password: DBA_PASSWORD });
  await env.pg.idp!.directory.addUser({ userPrincipalName: 'reader', displayName: 'Report Reader', password: READER_PASSWORD });
  await env.pg.idp!.directory.addServicePrincipal({ displayName: 'Deploy Pipeline' });
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  errors = new PageErrors();
  errors.watch(page);
});

after(async () => {
  await browser?.close();
  await env?.destroy();
});

async function shot(p: Page, name: string, fullPage = false): Promise<void> {
  await p.screenshot({ path: `${SHOTS}${name}.png`, fullPage, animations: 'disabled' });
}

/** The page's HTML, the values of its inputs and its storage hold no secret. */
async function assertNoSecrets(p: Page): Promise<void> {
  const html = await p.content();
  // A string, evaluated in the page: this file is type-checked without the DOM library.
  const state = await p.evaluate<{ inputs: string[]; text: string; storage: string; cookies: string; url: string }>(`({
    inputs: [...document.querySelectorAll('input')].map((i) => i.value),
    text: document.body.innerText,
    storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    cookies: document.cookie,
    url: location.href,
  })`);
  for (const s of secrets) {
    for (const [where, value] of Object.entries({ html, ...state, inputs: state.inputs.join('\n') })) {
      assert.ok(!value.includes(s), `a secret is on the page (${where})`);
    }
  }
}

function assertNoPageErrors(): void {
  assert.deepEqual(errors.errors, [], 'the page logged errors');
}

async function signsIn(user: string, password: string): Promise<{ ok: boolean; stderr: string }> {
  const r = await psql(env.pg.conn(user), 'select current_user', password);
  return { ok: r.code === 0 && r.stdout.trim() === user, stderr: r.stderr };
}

const dialog = (p: Page, name: string) => p.getByRole('dialog', { name });
const isFocused = (l: Locator): Promise<boolean> => l.evaluate((el) => el === el.ownerDocument.activeElement);
const focusedText = (p: Page): Promise<string | null> => p.locator(':focus').textContent();
const toolbarSave = (p: Page) => p.getByRole('toolbar').getByRole('button', { name: 'Save', exact: true });

/** Save in the toolbar, then wait for the results. */
async function saveAll(p: Page): Promise<string> {
  await toolbarSave(p).click();
  const heading = p.locator('#results-heading');
  await heading.waitFor();
  await waitFor(async () => (await p.locator('#results-heading:focus').count()) === 1, 5_000, 'focus on the results');
  return heading.innerText();
}

describe('the Authentication page, as the seed walks it', () => {
  test('sign in as citus (a wrong password is refused inline)', async () => {
    await page.goto(`${env.url}/`);
    await page.getByRole('heading', { name: 'Sign in to pgwarden' }).waitFor();
    await shot(page, '01-sign-in');
    // The refused sign-in answers 401, which chromium logs: expected here, and only here.
    const allowed = errors.allow(/status of 401/);
    await page.getByLabel('Password of citus').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in as citus' }).click();
    await page.getByText('The citus password is wrong.').waitFor();
    allowed();
    assert.equal(await page.getByLabel('Password of citus').inputValue(), '', 'the password field is emptied');
    await page.getByLabel('Password of citus').fill(CITUS_PASSWORD);
    await page.getByLabel('Password of citus').press('Enter');
    await page.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor();
    await page.getByRole('rowheader', { name: 'worker-2' }).waitFor();
    await assertNoSecrets(page);
    await shot(page, '02-authentication-page', true);
    const cookie = (await context.cookies()).find((c) => c.name === 'pgwarden_session');
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');
  });

  test('choose "PostgreSQL and Microsoft Entra authentication"', async () => {
    const radios = page.getByRole('radio');
    assert.deepEqual(await radios.evaluateAll((rs) => rs.map((r) => r.closest('label')!.querySelector('.radio-label')!.firstChild!.textContent)), [
      'PostgreSQL authentication only',
      'Microsoft Entra authentication',
      'PostgreSQL and Microsoft Entra authentication',
    ]);
    assert.equal(await page.getByRole('radio', { name: /^PostgreSQL authentication only/ }).isChecked(), true);
    await page.getByRole('radio', { name: /^PostgreSQL and Microsoft Entra authentication/ }).check();
    await page.getByText('Authentication methods: PostgreSQL authentication only → PostgreSQL and Microsoft Entra authentication').waitFor();
    assert.equal(await page.getByText('1 unsaved change').isVisible(), true);
  });

  test('add Microsoft Entra admins from the "Select Microsoft Entra Admins" panel', async () => {
    const add = page.getByRole('button', { name: 'Add Microsoft Entra admins' });
    // Escape closes the panel and focus returns to the button that opened it.
    await add.click();
    const panel = dialog(page, 'Select Microsoft Entra Admins');
    await panel.waitFor();
    assert.equal(await page.locator(':focus').getAttribute('type'), 'search', 'focus starts in the search box');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    assert.equal(await isFocused(add), true, 'focus is back on the button');

    await add.click();
    await panel.waitFor();
    await panel.getByLabel('Search by name, user principal name or application id').fill('dba');
    await waitFor(async () => (await panel.getByRole('checkbox').count()) === 1, 5_000, 'the search to narrow to one user');
    await panel.getByText(dba).waitFor();
    await panel.getByRole('checkbox').check();
    await panel.getByLabel('Search by name, user principal name or application id').fill('deploy');
    await waitFor(async () => (await panel.getByRole('checkbox').count()) === 1, 5_000, 'the search to narrow to one application');
    await panel.getByText('Deploy Pipeline').waitFor();
    await panel.getByRole('checkbox', { name: /Deploy Pipeline/ }).check();
    await panel.getByLabel('Search by name, user principal name or application id').fill('');
    await waitFor(async () => (await panel.getByRole('checkbox').count()) > 1, 5_000, 'every candidate');
    await panel.getByText(first.username).waitFor();
    assert.equal(
      await panel.getByRole('checkbox', { name: new RegExp(first.username.replace(/[.]/g, '\\.')) }).isDisabled(),
      true,
      'an admin already is not offered again',
    );
    await panel.getByText('2 selected').waitFor();
    await shot(page, '03-select-entra-admins');
    await panel.getByRole('button', { name: 'Select', exact: true }).click();
    await panel.waitFor({ state: 'detached' });
    const table = page.getByRole('table', { name: 'Microsoft Entra admins' });
    await table.getByRole('rowheader', { name: new RegExp(dba) }).waitFor();
    assert.match(await table.getByRole('row', { name: /Deploy Pipeline/ }).innerText(), /Enterprise application/);
    assert.match(await table.getByRole('row', { name: new RegExp(dba) }).innerText(), /Added · unsaved/);
    assertNoPageErrors();
  });

  test('add the PostgreSQL role db_user; the password rules show while typing', async () => {
    await page.getByRole('button', { name: 'Add PostgreSQL role' }).click();
    const panel = dialog(page, 'Add PostgreSQL role');
    await panel.waitFor();
    const name = panel.getByLabel('Role name');
    assert.equal(await isFocused(name), true, 'focus starts on the name');
    await name.fill('pg_nope');
    await panel.getByText('Names starting with "pg_" belong to PostgreSQL.').waitFor();
    await name.fill('x'.repeat(64));
    await panel.getByText('The name is 64 bytes long; at most 63 bytes are allowed.').waitFor();
    await name.fill(DB_USER);
    const password = panel.getByLabel('Password', { exact: true });
    await password.pressSequentially('db-user');
    const rules = panel.locator('.rules li');
    assert.deepEqual(await rules.evaluateAll((ls) => ls.map((l) => l.className)), ['unmet', 'unmet']);
    await shot(page, '04-add-role-rules');
    await password.fill(DB_USER_PASSWORD);
    await password.dispatchEvent('input');
    assert.deepEqual(await rules.evaluateAll((ls) => ls.map((l) => l.className)), ['met', 'met']);
    await panel.getByLabel('Confirm password').fill('Db-User-Passw0rd?');
    await panel.getByText('The passwords do not match.').waitFor();
    await panel.getByLabel('Confirm password').fill(DB_USER_PASSWORD);
    secrets.push(DB_USER_PASSWORD);
    await shot(page, '05-add-role');
    await panel.getByRole('button', { name: 'Save', exact: true }).click();
    await panel.waitFor({ state: 'detached' });
    const roles = page.getByRole('table', { name: 'PostgreSQL roles' });
    assert.match(await roles.getByRole('row', { name: new RegExp(DB_USER) }).innerText(), /Added · unsaved/);
    assert.equal(await isFocused(page.getByRole('button', { name: 'Add PostgreSQL role', exact: true })), true, 'focus is back on Add PostgreSQL role');
    await assertNoSecrets(page);
    await page.getByRole('heading', { name: 'Unsaved changes' }).waitFor();
    await shot(page, '06-unsaved-changes', true);
  });

  test('Save applies the changes together and shows the result on each node', async () => {
    const summary = await page.locator('.change-list').innerText();
    assert.match(summary, /Add Microsoft Entra admin dba@/);
    assert.match(summary, /Add Microsoft Entra admin Deploy Pipeline \(Enterprise application\)/);
    assert.match(summary, /Add PostgreSQL role db_user/);
    const heading = await saveAll(page);
    assert.equal(heading, 'Saved: 4 changes applied on every node');
    const outcomes = page.locator('.outcomes > li');
    assert.equal(await outcomes.count(), 4);
    for (const o of await outcomes.all()) {
      assert.deepEqual(
        (await o.locator('.node-chips .chip').allInnerTexts()).map((t) => t.trim()),
        ['coordinator', 'worker-1', 'worker-2'],
      );
    }
    assert.equal(await page.getByText('No unsaved changes').isVisible(), true);
    await assertNoSecrets(page);
    await shot(page, '07-saved', true);
    assertNoPageErrors();
  });

  test('psql signs in as db_user with its password, and as the new admin with a token', async () => {
    assert.deepEqual(await signsIn(DB_USER, DB_USER_PASSWORD), { ok: true, stderr: '' });
    const token = await userToken(env.pg, dba, DBA_PASSWORD);
    const r = await signsIn(dba, token);
    assert.equal(r.ok, true, r.stderr);
  });

  test("reset db_user's password from its menu; psql signs in with the new one only", async () => {
    const more = page.getByRole('button', { name: 'More actions for db_user' });
    // Keyboard: Enter opens the menu on its first item, Escape closes it and returns focus.
    await more.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu', { name: 'More actions for db_user' });
    await menu.waitFor();
    // The menu moves focus once it is drawn: wait for it rather than race it.
    await waitFor(async () => (await focusedText(page)) === 'Reset password', 5_000, 'focus on "Reset password"');
    await page.keyboard.press('ArrowDown');
    await waitFor(async () => (await focusedText(page)) === 'Delete', 5_000, 'focus on "Delete"');
    await shot(page, '08-role-menu');
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    assert.equal(await isFocused(more), true);

    await more.click();
    await menu.getByRole('menuitem', { name: 'Reset password' }).click();
    const panel = dialog(page, 'Reset password');
    await panel.waitFor();
    await panel.getByLabel('New password').fill(DB_USER_NEW_PASSWORD);
    await panel.getByLabel('Confirm password').fill(DB_USER_NEW_PASSWORD);
    secrets.push(DB_USER_NEW_PASSWORD);
    await shot(page, '09-reset-password');
    await panel.getByLabel('Confirm password').press('Enter');
    await panel.waitFor({ state: 'detached' });
    assert.equal(await isFocused(more), true, 'focus is back on the menu button');
    await page.getByText('Reset the password of db_user').waitFor();
    assert.equal(await saveAll(page), 'Saved: 1 change applied on every node');
    await assertNoSecrets(page);
    assert.equal((await signsIn(DB_USER, DB_USER_NEW_PASSWORD)).ok, true);
    assert.match((await signsIn(DB_USER, DB_USER_PASSWORD)).stderr, /password authentication failed for user "db_user"/);
  });

  test('citus is built in: its menu offers no Delete', async () => {
    const roles = page.getByRole('table', { name: 'PostgreSQL roles' });
    assert.match(await roles.getByRole('row', { name: /citus/ }).innerText(), /Built-in/);
    await page.getByRole('button', { name: 'More actions for citus' }).click();
    const menu = page.getByRole('menu', { name: 'More actions for citus' });
    await menu.waitFor();
    assert.deepEqual(await menu.getByRole('menuitem').allInnerTexts(), ['Reset password']);
    await shot(page, '10-citus-menu');
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
  });

  test('delete db_user from its menu; psql can no longer sign in as it', async () => {
    await page.getByRole('button', { name: 'More actions for db_user' }).click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    const undo = page.getByRole('button', { name: 'Undo: delete db_user' });
    await undo.waitFor();
    assert.equal(await isFocused(undo), true, 'focus moves to Undo');
    assert.match(
      await page
        .getByRole('table', { name: 'PostgreSQL roles' })
        .getByRole('row', { name: /db_user/ })
        .innerText(),
      /Removed · unsaved/,
    );
    await shot(page, '11-delete-role', true);
    assert.equal(await saveAll(page), 'Saved: 1 change applied on every node');
    assert.equal(
      await page
        .getByRole('table', { name: 'PostgreSQL roles' })
        .getByRole('row', { name: /db_user/ })
        .count(),
      0,
    );
    assert.match((await signsIn(DB_USER, DB_USER_NEW_PASSWORD)).stderr, /password authentication failed for user "db_user"/);
  });

  test('switch to Microsoft Entra authentication only; psql refuses citus', async () => {
    await page.getByRole('radio', { name: /^Microsoft Entra authentication/ }).check();
    await page.getByText('citus will be disabled, and you are signed in as citus').waitFor();
    await page.getByText('PostgreSQL authentication is off: these roles, citus included, cannot sign in.').waitFor();
    await shot(page, '12-entra-only', true);
    // Saving ends citus's own session at once (the API re-checks a session's owner on every
    // call): the page signs out and says why. Its refused calls answer 401, which chromium logs.
    const allowed = errors.allow(/status of 401/);
    // The calls the page makes after saving answer 401 at different moments; one held back
    // answers after the server has told the reason (once) and ended the session. The page
    // must keep the reason, not replace it with a generic one.
    let release!: () => void;
    const reasonShown = new Promise<void>((resolve) => (release = resolve));
    const lateRoles = async (route: Route) => {
      await reasonShown;
      await route.continue();
    };
    await page.route('**/api/v1/roles', lateRoles);
    const lateAnswer = page.waitForResponse('**/api/v1/roles');
    await toolbarSave(page).click();
    try {
      await page.getByText('Your session ended: PostgreSQL authentication is disabled for this cluster, so citus cannot sign in.').waitFor();
    } finally {
      release();
    }
    // The held call's 401 has reached the page; what it would set off (one local request)
    // has time to land before the reason is looked for again.
    assert.equal((await lateAnswer).status(), 401);
    // Intrinsic: proving that nothing follows needs a window (the page shows no sign of having handled the 401).
    await sleep(500);
    await page.unroute('**/api/v1/roles', lateRoles);
    await page.getByText('Your session ended: PostgreSQL authentication is disabled for this cluster, so citus cannot sign in.').waitFor({ timeout: 100 });
    allowed();
    const r = await psql(env.pg.conn('citus'), 'select 1', CITUS_PASSWORD);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /PostgreSQL authentication is disabled for this cluster/);
    const token = await userToken(env.pg, dba, DBA_PASSWORD);
    assert.equal((await signsIn(dba, token)).ok, true, 'the admin still signs in');
    assertNoPageErrors();
    assert.equal(await page.getByLabel('Password of citus').count(), 0);
  });
});

describe('signing in with the identity provider', () => {
  let entraContext: BrowserContext;
  let p: Page;
  let entraErrors: PageErrors;

  before(async () => {
    entraContext = await newContext(browser);
    p = await entraContext.newPage();
    entraErrors = new PageErrors();
    entraErrors.watch(p);
  });
  after(() => entraContext?.close());

  async function signInWithEntra(username: string, password: string): Promise<void> {
    await p.goto(`${env.url}/`);
    await p.getByRole('link', { name: 'Sign in with Microsoft Entra ID' }).click();
    await p.getByLabel('User name (name@domain)').waitFor();
    await p.getByLabel('User name (name@domain)').fill(username);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  test("the provider's sign-in page accepts its own form in a real browser", async () => {
    const plain = await newContext(browser);
    try {
      const q = await plain.newPage();
      await q.goto(`${env.url}/portal/signin/entra`);
      await q.getByLabel('User name (name@domain)').fill(first.username);
      await q.getByLabel('Password').fill(first.password);
      await q.getByRole('button', { name: 'Sign in', exact: true }).click();
      await q.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor({ timeout: 5_000 });
    } finally {
      await plain.close();
    }
  });

  test('with Entra only, citus cannot sign in to the portal either', async () => {
    await p.goto(`${env.url}/`);
    await p.getByRole('link', { name: 'Sign in with Microsoft Entra ID' }).waitFor();
    assert.equal(await p.getByLabel('Password of citus').count(), 0);
    await p.getByText('PostgreSQL authentication is disabled for this cluster, so citus cannot sign in').waitFor();
    await shot(p, '13-sign-in-entra-only');
  });

  test('a user who is not an admin is sent back with the reason', async () => {
    secrets.push(READER_PASSWORD);
    await signInWithEntra(`reader@${env.pg.idp!.tenantDomain}`, READER_PASSWORD);
    await p.getByText('Only Microsoft Entra admins of this cluster may manage it.').waitFor();
    await p.getByRole('heading', { name: 'Sign in to pgwarden' }).waitFor();
    assert.equal(new URL(p.url()).pathname, '/');
    await assertNoSecrets(p);
    // The reason is told once.
    await p.reload();
    await p.getByRole('heading', { name: 'Sign in to pgwarden' }).waitFor();
    assert.equal(await p.getByText('Only Microsoft Entra admins').count(), 0);
  });

  test("an admin signs in on the provider's page and sees the page; the token never reaches the browser", async () => {
    secrets.push(DBA_PASSWORD);
    await p.goto(`${env.url}/`);
    await p.getByRole('link', { name: 'Sign in with Microsoft Entra ID' }).click();
    await p.getByLabel('User name (name@domain)').fill(dba);
    await p.getByLabel('Password').fill(DBA_PASSWORD);
    await shot(p, '14-identity-provider-sign-in');
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
    await p.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor();
    await p.getByRole('banner').getByText(dba).waitFor();
    assert.equal(new URL(p.url()).search, '', 'no code left in the address bar');
    assert.equal(await p.getByRole('radio', { name: /^Microsoft Entra authentication/ }).isChecked(), true);
    await assertNoSecrets(p);
    const everything =
      (await p.content()) + (await p.evaluate<string>('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie'));
    assert.doesNotMatch(everything, /eyJ[\w-]{10,}\.[\w-]{10,}\./, 'no JWT on the page');
    await shot(p, '15-signed-in-with-entra', true);
    const names = (await entraContext.cookies()).map((c) => c.name).sort();
    assert.deepEqual(
      names.filter((n) => n.startsWith('pgwarden_')),
      ['pgwarden_session'],
    );
    assert.deepEqual(entraErrors.errors, []);
  });

  test('switch back to both methods as the Entra admin; then sign out', async () => {
    await p.getByRole('radio', { name: /^PostgreSQL and Microsoft Entra authentication/ }).check();
    assert.equal(await saveAll(p), 'Saved: 1 change applied on every node');
    assert.equal((await signsIn('citus', CITUS_PASSWORD)).ok, true, 'citus signs in again');
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByText('You signed out.').waitFor();
    assert.deepEqual(entraErrors.errors, []);
    entraErrors.allow(/status of 401/);
    const r = await p.evaluate<number>("fetch('/api/v1/roles').then((r) => r.status)");
    assert.equal(r, 401, 'the session is over');
  });
});

describe('at phone width (390x844)', () => {
  test('the page and its panels fit the screen', async () => {
    const phone = await newContext(browser, { width: 390, height: 844 });
    try {
      const p = await phone.newPage();
      const phoneErrors = new PageErrors();
      phoneErrors.watch(p);
      await p.goto(`${env.url}/`);
      await p.getByLabel('Password of citus').fill(CITUS_PASSWORD);
      await shot(p, '16-phone-sign-in');
      await p.getByRole('button', { name: 'Sign in as citus' }).click();
      await p.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor();
      await p.getByText('worker-2').waitFor();
      const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.equal(overflow, 0, 'no sideways scrolling');
      await shot(p, '17-phone-page', true);
      await p.getByRole('button', { name: 'Add PostgreSQL role' }).click();
      const panel = dialog(p, 'Add PostgreSQL role');
      await panel.waitFor();
      const box = await p.locator('.panel').boundingBox();
      assert.equal(Math.round(box!.width), 390, 'the panel fills the screen');
      await shot(p, '18-phone-add-role');
      await p.keyboard.press('Escape');
      await panel.waitFor({ state: 'detached' });
      assert.deepEqual(phoneErrors.errors, []);
    } finally {
      await phone.close();
    }
  });
});

describe('Nodes', () => {
  let nodesContext: BrowserContext;
  let nodesErrors: PageErrors;

  before(async () => {
    // A fresh citus session: the first one may have ended with the switch to Entra only.
    nodesContext = await newContext(browser);
    page = await nodesContext.newPage();
    nodesErrors = new PageErrors();
    nodesErrors.watch(page);
    await page.goto(`${env.url}/`);
    await page.getByLabel('Password of citus').fill(CITUS_PASSWORD);
    await page.getByRole('button', { name: 'Sign in as citus' }).click();
    await page.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor();
  });
  after(() => nodesContext?.close());

  test('a worker that stops shows Down, and Up when it is back, without reloading', async () => {
    const worker = env.pg.cluster.nodes.find((n) => n.name === 'worker-2')!;
    const row = page.getByRole('table', { name: 'Nodes of the cluster' }).getByRole('row', { name: /worker-2/ });
    await worker.stop();
    try {
      await row.getByText('Down', { exact: true }).waitFor({ timeout: 15_000 });
      await row.getByText(/^Unreachable since/).waitFor({ timeout: 15_000 });
      await shot(page, '19-node-down', true);
    } finally {
      await worker.start();
    }
    await row.getByText('Up', { exact: true }).waitFor({ timeout: 15_000 });
    await row.getByText('In sync', { exact: true }).waitFor({ timeout: 15_000 });
    assert.deepEqual(nodesErrors.errors, []);
  });

  test('fields the page does not know yet are shown as they come', async () => {
    await page.route('**/api/v1/cluster', async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { nodes: Array<Record<string, unknown>> };
      body.nodes = body.nodes.map((n) => ({
        ...n,
        syncState: n.kind === 'coordinator' ? 'source' : 'in sync',
        lastSyncAt: '2026-01-01T00:00:00Z',
        pending: { roles: 0 },
      }));
      await route.fulfill({ response: res, json: body });
    });
    try {
      await page.getByRole('button', { name: 'Refresh nodes' }).click();
      const row = page.getByRole('table', { name: 'Nodes of the cluster' }).getByRole('row', { name: /worker-1/ });
      await row.getByText('Sync state').waitFor();
      assert.match(await row.innerText(), /Sync state\s*in sync[\s\S]*Last sync at\s*2026-01-01T00:00:00Z[\s\S]*Pending\s*\{"roles":0\}/);
    } finally {
      await page.unroute('**/api/v1/cluster');
    }
    assert.deepEqual(nodesErrors.errors, []);
  });
});

describe('Sessions', () => {
  let sessionsContext: BrowserContext;
  let sessionsErrors: PageErrors;

  before(async () => {
    sessionsContext = await newContext(browser);
    page = await sessionsContext.newPage();
    sessionsErrors = new PageErrors();
    sessionsErrors.watch(page);
    await page.goto(`${env.url}/`);
    await page.getByLabel('Password of citus').fill(CITUS_PASSWORD);
    await page.getByRole('button', { name: 'Sign in as citus' }).click();
    await page.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor();
  });
  after(() => sessionsContext?.close());

  test('"End sessions when their access token expires": staged, saved, shown again after a reload', async () => {
    const expiry = page.getByRole('checkbox', { name: /End sessions when their access token expires/ });
    assert.equal(await expiry.isChecked(), false, 'never is the default');
    await expiry.check();
    await page.getByText('End sessions when their access token expires', { exact: true }).first().waitFor();
    assert.equal(await page.getByText('1 unsaved change').isVisible(), true);
    assert.equal(await saveAll(page), 'Saved: 1 change applied on every node');
    const api = await page.evaluate<{ sessionExpiry: string }>(`fetch('/api/v1/authentication').then((r) => r.json())`);
    assert.equal(api.sessionExpiry, 'token');
    await page.reload();
    await page.getByRole('heading', { name: 'Authentication', level: 1 }).waitFor();
    assert.equal(await page.getByRole('checkbox', { name: /End sessions when their access token expires/ }).isChecked(), true);
    await page.getByRole('checkbox', { name: /End sessions when their access token expires/ }).uncheck();
    assert.equal(await saveAll(page), 'Saved: 1 change applied on every node');
    await shot(page, '20-session-expiry', true);
    assert.deepEqual(sessionsErrors.errors, []);
  });
});
