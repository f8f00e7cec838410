// The session as a real browser uses it: several tabs, a cookie jar that
// obeys every Set-Cookie, a mobile keyboard's trailing space, scripts that
// fire events. The browser's clock is driven and the server's advanced in
// step, as in session.spec.ts.
import { APIRequestContext, expect, Page, test } from '@playwright/test';
import { advanceServerClock, hydrated, newUser, signIn } from './support';

const IDLE = 900;
const WARNING = 120;

async function pass(page: Page, request: APIRequestContext, secs: number) {
  await advanceServerClock(request, secs);
  await page.clock.fastForward(secs * 1000);
}

const warning = (page: Page) => page.getByRole('alertdialog', { name: /session/ });
const expired = (page: Page) => page.getByRole('dialog', { name: /Session expired/ });

/** Passes time a minute at a time until the page shows the expired dialog. */
async function idleUntilExpired(page: Page, request: APIRequestContext) {
  for (let i = 0; i < 40 && (await expired(page).count()) === 0; i++) {
    await pass(page, request, 60);
  }
  await expect(expired(page)).toBeVisible();
}

test('an expired tab that re-checks its status still lets a new tab say why', async ({ context, request }) => {
  await context.clock.install();
  const page = await context.newPage();
  await signIn(page, newUser('reason', 'pw-secret', 3), 'pw-secret');
  await hydrated(page);
  await idleUntilExpired(page, request);
  await expect(expired(page)).toContainText('inactivity');

  // The user comes back to the tab twice: each time it asks the (passive)
  // status again. The session cookie is gone from the browser after that.
  for (let i = 0; i < 2; i++) {
    const asked = page.waitForResponse((r) => r.url().includes('/api/session_status'));
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await asked;
  }
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === 'session_guard')).toBeUndefined();

  const other = await context.newPage();
  await other.goto('/items');
  await expect(other).toHaveURL(/\/login\?reason=idle/);
  await expect(other.getByText(/inactivity/)).toBeVisible();
});

test('signing in again as "name " (a trailing space) keeps the draft', async ({ page, request }) => {
  await page.clock.install();
  const name = newUser('spacer', 'pw-secret', 3);
  await signIn(page, name, 'pw-secret');
  await page.goto('/items/new');
  await hydrated(page);
  await page.getByLabel('Title').fill('Kept title');
  await page.getByLabel('Description').fill('Typed on a phone');
  await idleUntilExpired(page, request);

  await expired(page).getByLabel('Username').fill(`${name} `);
  await expired(page).getByLabel('Password').fill('pw-secret');
  await expired(page).getByRole('button', { name: 'Sign in' }).click();
  await expect(expired(page)).toHaveCount(0);
  await expect(page.getByLabel('Title')).toHaveValue('Kept title');
  await expect(page.getByLabel('Description')).toHaveValue('Typed on a phone');
});

test('paging in one tab moves the countdown of the other', async ({ context, request }) => {
  await context.clock.install();
  const name = newUser('pager', 'pw-secret', 45);
  const a = await context.newPage();
  await signIn(a, name, 'pw-secret');
  await hydrated(a);
  const b = await context.newPage();
  await b.goto('/items');
  await hydrated(b);

  // 30 s before the warning, B pages. The click is dispatched without
  // pointer or key events, so that no keep-alive (which tabs already
  // shared) goes out: only the list_items answer can tell A.
  await pass(a, request, IDLE - WARNING - 30);
  await expect(warning(a)).toHaveCount(0);
  const extended = [];
  b.on('request', (r) => {
    if (r.url().includes('/api/extend_session')) extended.push(r);
  });
  const listed = b.waitForResponse((r) => r.url().includes('/api/list_items'));
  await b.getByRole('link', { name: 'Next' }).dispatchEvent('click');
  expect((await listed).status()).toBe(200);
  await expect(b.getByText('Page 2 of 3')).toBeVisible();

  // A minute later A, which heard of it, is not warning (without the
  // answer shared it would be, with 90 s left).
  await pass(a, request, 60);
  await a.clock.runFor(2_000);
  expect(extended).toHaveLength(0);
  await expect(warning(b)).toHaveCount(0);
  await expect(warning(a)).toHaveCount(0);
  await expect(a.locator('.guarded')).not.toHaveAttribute('inert', '');
});

test("a script's scroll and pointer events are not activity; the user's are", async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('synthetic', 'pw-secret'), 'pw-secret');
  await page.goto('/items/new');
  await hydrated(page);
  let extends_ = 0;
  page.on('request', (r) => {
    if (r.url().includes('/api/extend_session')) extends_ += 1;
  });
  // Past the keep-alive interval: the next activity would send one.
  await pass(page, request, 70);

  await page.evaluate(() => {
    for (let i = 0; i < 5; i++) {
      document.dispatchEvent(new Event('scroll'));
      document.dispatchEvent(new PointerEvent('pointermove', { bubbles: true }));
      document.dispatchEvent(new KeyboardEvent('keydown', { key: 'a', bubbles: true }));
    }
  });
  await page.clock.runFor(3_000);
  await page.waitForTimeout(500);
  expect(extends_).toBe(0);

  const kept = page.waitForRequest((r) => r.url().includes('/api/extend_session'));
  await page.getByLabel('Description').pressSequentially('real');
  await kept;
});

/** Collects the page's panics: one stops its WebAssembly for good. */
function panicsOf(page: Page): string[] {
  const panics: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /panicked/.test(msg.text())) panics.push(msg.text());
  });
  page.on('pageerror', (err) => panics.push(err.message));
  return panics;
}

test('after signing out with the button, time passing does not crash the page', async ({ page }) => {
  const panics = panicsOf(page);
  await page.clock.install();
  await signIn(page, newUser('leaving', 'pw-secret'), 'pw-secret');
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.clock.runFor(5_000);
  await page.waitForTimeout(300);
  expect(panics).toEqual([]);
});

test('a keep-alive answered after the user signed out and left does not crash the page', async ({ page, request }) => {
  const panics = panicsOf(page);
  await page.clock.install();
  await signIn(page, newUser('late', 'pw-secret'), 'pw-secret');
  await hydrated(page);

  // The keep-alive reaches the server at once; its answer reaches the page
  // only after the user has signed out and the page has moved on.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let answered!: () => void;
  const delivered = new Promise<void>((resolve) => (answered = resolve));
  await page.route('**/api/extend_session', async (route) => {
    const response = await route.fetch();
    await held;
    await route.fulfill({ response });
    answered();
  });
  await pass(page, request, 70);
  const sent = page.waitForRequest((r) => r.url().includes('/api/extend_session'));
  await page.keyboard.press('Shift');
  await sent;

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  release();
  await delivered;
  await page.clock.runFor(2_000);
  await page.waitForTimeout(300);
  expect(panics).toEqual([]);
});

test("another user who signs in in this browser never gets the last user's page or draft", async ({ context }) => {
  const alice = newUser('alice', 'pw-secret', 3);
  const bob = newUser('bob', 'pw-secret-bob');
  const a = await context.newPage();
  await signIn(a, alice, 'pw-secret');
  await a.goto('/items/new');
  await hydrated(a);
  await a.getByLabel('Title').fill("Alice's draft");

  // Alice signs out in another tab, which covers her draft here; then Bob
  // signs in there, and comes to this tab, which asks how things stand.
  const b = await context.newPage();
  await b.goto('/items');
  await hydrated(b);
  await b.getByRole('button', { name: 'Sign out' }).click();
  await expect(b).toHaveURL(/\/login/);
  await expect(expired(a)).toBeVisible();
  await signIn(b, bob, 'pw-secret-bob');
  const asked = a.waitForResponse((r) => r.url().includes('/api/session_status'));
  await a.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await asked;
  await expect(expired(a)).toBeVisible();
  await expect(a.locator('.guarded')).toHaveClass(/obscured/);

  // Bob signs in over it: a fresh page, with nothing of Alice's.
  await expect(expired(a).getByLabel('Username')).toHaveValue(alice);
  await expired(a).getByLabel('Username').fill(bob);
  await expired(a).getByLabel('Password').fill('pw-secret-bob');
  const reloaded = a.waitForEvent('load');
  await expired(a).getByRole('button', { name: 'Sign in' }).click();
  await reloaded;
  await hydrated(a);
  await expect(expired(a)).toHaveCount(0);
  await expect(a.getByLabel('Title')).toHaveValue('');
});

test('signing in on the login page after an end opens a working page, not the end again', async ({ page, request }) => {
  await page.clock.install();
  const name = newUser('returning', 'pw-secret', 3);
  await signIn(page, name, 'pw-secret');
  await hydrated(page);
  await idleUntilExpired(page, request);

  // Back to the login page (in the page: the router's), and sign in there.
  await page.goBack();
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill('pw-secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();
  await expect(page.getByText(/Page 1 of/)).toBeVisible();
  await expect(expired(page)).toHaveCount(0);
  await expect(page.locator('.guarded')).not.toHaveClass(/obscured/);
});

test('an end one tab finds covers the others at once; signing in again in another tab uncovers them', async ({
  browser,
  context,
}) => {
  const name = newUser('everywhere', 'pw-secret', 45);
  const a = await context.newPage();
  await signIn(a, name, 'pw-secret');
  await a.goto('/items/new');
  await hydrated(a);
  await a.getByLabel('Title').fill('Kept across tabs');
  const b = await context.newPage();
  await b.goto('/items');
  await hydrated(b);

  // From a phone (a browser of its own), every other session is signed out.
  const phone = await (await browser.newContext()).newPage();
  await signIn(phone, name, 'pw-secret');
  await phone.getByRole('link', { name: 'Your sessions' }).click();
  await phone.getByRole('button', { name: 'Sign out all other sessions' }).click();
  await phone.getByRole('dialog', { name: 'Confirm it is you' }).getByLabel('Password').fill('pw-secret');
  await phone.getByRole('button', { name: 'Confirm' }).click();
  await expect(phone.getByRole('status').filter({ hasText: 'Signed out 1 session.' })).toBeVisible();

  // B pages and is refused; A, which sent nothing, is covered as well.
  await b.getByRole('link', { name: 'Next' }).click();
  await expect(expired(b)).toContainText('another session');
  await expect(expired(a)).toContainText('another session');
  await expect(a.locator('.guarded')).toHaveClass(/obscured/);

  // The user signs in again in a new tab; each of the others, once looked
  // at, is theirs again as it was.
  await signIn(await context.newPage(), name, 'pw-secret');
  for (const tab of [a, b]) {
    await tab.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await expect(expired(tab)).toHaveCount(0);
  }
  await expect(a.getByLabel('Title')).toHaveValue('Kept across tabs');
  await expect(b.getByText('Page 2 of 3')).toBeVisible();
});

test('Sign out on a page whose session already ended goes to the login page', async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('sleeper', 'pw-secret'), 'pw-secret');
  await hydrated(page);
  // The session ends while the page cannot know it yet (the laptop slept).
  await advanceServerClock(request, IDLE + 60);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
  await expect(page.getByText('You have signed out.')).toBeVisible();
  await expect(expired(page)).toHaveCount(0);
});

test('a page loaded after a long pause counts from the deadline its load renewed', async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('paused', 'pw-secret', 3), 'pw-secret');
  await hydrated(page);
  // Away long enough to be inside the warning (100 s left), then the list
  // is loaded again: a real page load, which renews the session.
  await advanceServerClock(request, IDLE - 100);
  await page.goto('/items');
  await hydrated(page);
  await page.clock.runFor(3_000);
  await expect(warning(page)).toHaveCount(0);
  expect((await (await page.request.get('/api/session_status')).json()).idle_remaining_secs).toBeGreaterThan(IDLE - 10);
});
