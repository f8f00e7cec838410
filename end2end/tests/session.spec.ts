// The page's side of the session, with the browser's clock driven and the
// server's clock advanced in step: no test waits real minutes.
import AxeBuilder from '@axe-core/playwright';
import { APIRequestContext, expect, Page, test } from '@playwright/test';
import * as path from 'path';
import { root } from '../env';
import { advanceServerClock, hydrated, newUser, signIn } from './support';

const IDLE = 900;
const WARNING = 120;
const ABSOLUTE = 28800;

/** Lets `secs` pass for the server and for every page of the browser context. */
async function pass(page: Page, request: APIRequestContext, secs: number) {
  await advanceServerClock(request, secs);
  await page.clock.fastForward(secs * 1000);
}

async function status(page: Page) {
  const res = await page.request.get('/api/session_status');
  expect(res.status()).toBe(200);
  return res.json();
}

/** The README's pictures of the dialogs, taken as the tests see them. */
async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: path.join(root, 'docs', 'screenshots', `${name}.png`), animations: 'disabled' });
}

const warning = (page: Page) => page.getByRole('alertdialog', { name: /session/ });
const expired = (page: Page) => page.getByRole('dialog', { name: /Session expired/ });

test('1. the warning comes at idle minus warning, counts down, and Stay signed in extends', async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('warned', 'pw-secret', 5), 'pw-secret');
  await hydrated(page);

  await pass(page, request, IDLE - WARNING - 5);
  await expect(warning(page)).toHaveCount(0);
  await pass(page, request, 5);
  await expect(warning(page)).toBeVisible();
  const timer = warning(page).getByRole('timer');
  await expect(timer).toHaveText(/^(2:00|1:59)$/);
  await page.clock.runFor(10_000);
  await expect(timer).toHaveText(/^1:(49|50)$/);

  // Focus is in the dialog; the mouse moving does not dismiss it.
  const stay = warning(page).getByRole('button', { name: 'Stay signed in' });
  await expect(stay).toBeFocused();
  await page.mouse.move(10, 10);
  await page.mouse.move(400, 300);
  await page.clock.runFor(2_000);
  await expect(warning(page)).toBeVisible();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await expect(stay).toBeFocused();

  await stay.click();
  await expect(warning(page)).toHaveCount(0);
  const now = await status(page);
  expect(now.signed_in).toBe(true);
  expect(now.idle_remaining_secs).toBeGreaterThanOrEqual(IDLE - 1);
});

test('2. typing in Description for longer than the idle timeout keeps the session', async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('typist', 'pw-secret'), 'pw-secret');
  await page.goto('/items/new');
  await hydrated(page);
  const description = page.getByLabel('Description');
  await description.click();
  for (let minute = 0; minute < 40; minute++) {
    await description.pressSequentially('word ');
    await pass(page, request, 60);
    await expect(warning(page)).toHaveCount(0);
  }
  expect((await status(page)).signed_in).toBe(true);
  await expect(description).toHaveValue('word '.repeat(40));
});

test('2b. typing right after the tab is shown again, near the warning, keeps the session', async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('returner', 'pw-secret'), 'pw-secret');
  await page.goto('/items/new');
  await hydrated(page);
  await pass(page, request, IDLE - WARNING - 15);
  // The tab comes back: the page re-asks the (passive) status ...
  const asked = page.waitForResponse((r) => r.url().includes('/api/session_status'));
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await asked;
  // ... and the user types at once: the keep-alive is not put off by that look.
  const kept = page.waitForResponse((r) => r.url().includes('/api/extend_session'));
  await page.getByLabel('Description').pressSequentially('back again');
  await kept;
  await pass(page, request, 30);
  await expect(warning(page)).toHaveCount(0);
  expect((await status(page)).idle_remaining_secs).toBeGreaterThan(WARNING);
});

test('3. a page left alone warns, then expires; signing in keeps the draft and the page', async ({ page, request }) => {
  await page.clock.install();
  const name = newUser('idler', 'pw-secret', 45);
  await signIn(page, name, 'pw-secret');
  await page.goto('/items/new');
  await hydrated(page);
  await page.getByLabel('Title').fill('Draft title');
  await page.getByLabel('Description').fill('A half-written thought');
  // The typing above may send one keep-alive; then nothing more.
  for (let i = 0; i < 40 && (await warning(page).count()) === 0; i++) {
    await pass(page, request, 30);
  }
  await expect(warning(page)).toBeVisible();
  await screenshot(page, 'warning');
  await pass(page, request, WARNING + 2);

  await expect(expired(page)).toBeVisible();
  await expect(expired(page)).toContainText('inactivity');
  await expect(page.locator('.guarded')).toHaveClass(/obscured/);
  await screenshot(page, 'expired');
  await expired(page).getByLabel('Username').fill(name);
  await expired(page).getByLabel('Password').fill('pw-secret');
  await expired(page).getByRole('button', { name: 'Sign in' }).click();
  await expect(expired(page)).toHaveCount(0);
  await expect(page.getByLabel('Title')).toHaveValue('Draft title');
  await expect(page.getByLabel('Description')).toHaveValue('A half-written thought');

  // And on a list page, the page number survives too.
  await page.goto('/items?page=2');
  await hydrated(page);
  for (let i = 0; i < 40 && (await expired(page).count()) === 0; i++) {
    await pass(page, request, 60);
  }
  await expect(expired(page)).toContainText('inactivity');
  await expired(page).getByLabel('Password').fill('pw-secret');
  await expired(page).getByRole('button', { name: 'Sign in' }).click();
  await expect(expired(page)).toHaveCount(0);
  await expect(page).toHaveURL(/page=2$/);
  await expect(page.getByText('Page 2 of 3')).toBeVisible();
});

test('3b. focus goes back where the user was: after Stay signed in, and after the end and signing in again', async ({
  page,
  request,
}) => {
  await page.clock.install();
  const name = newUser('focused', 'pw-secret');
  await signIn(page, name, 'pw-secret');
  await page.goto('/items/new');
  await hydrated(page);
  const description = page.getByLabel('Description');
  await description.fill('Where I was');
  await expect(description).toBeFocused();

  const warned = async () => {
    for (let i = 0; i < 40 && (await warning(page).count()) === 0; i++) {
      await pass(page, request, 30);
    }
    await expect(warning(page)).toBeVisible();
  };
  await warned();
  await warning(page).getByRole('button', { name: 'Stay signed in' }).click();
  await expect(warning(page)).toHaveCount(0);
  await expect(description).toBeFocused();

  // The warning again, and this time the session ends under it.
  await warned();
  await pass(page, request, WARNING + 2);
  await expect(expired(page)).toBeVisible();
  await expired(page).getByLabel('Password').fill('pw-secret');
  await expired(page).getByRole('button', { name: 'Sign in' }).click();
  await expect(expired(page)).toHaveCount(0);
  await expect(description).toBeFocused();
});

test('4. tabs act as one: activity, extend and sign-out', async ({ context, request }) => {
  await context.clock.install();
  const name = newUser('tabs', 'pw-secret', 5);
  const a = await context.newPage();
  await signIn(a, name, 'pw-secret');
  await hydrated(a);
  const b = await context.newPage();
  await b.goto('/items/new');
  await hydrated(b);

  // Activity only in tab B keeps tab A alive, and A shows no warning.
  const typing = b.getByLabel('Description');
  await typing.click();
  for (let minute = 0; minute < 20; minute++) {
    await typing.pressSequentially('x');
    await pass(b, request, 60);
    // A hears of B's keep-alives: it never counts down to a warning.
    await expect(warning(a)).toHaveCount(0);
  }
  expect((await status(a)).signed_in).toBe(true);

  // Both warn; Stay signed in in A closes B's warning too.
  for (let i = 0; i < 40 && (await warning(a).count()) === 0; i++) {
    await pass(a, request, 30);
  }
  await expect(warning(a)).toBeVisible();
  await expect(warning(b)).toBeVisible();
  await warning(a).getByRole('button', { name: 'Stay signed in' }).click();
  await expect(warning(a)).toHaveCount(0);
  await expect(warning(b)).toHaveCount(0);

  // Signing out in A signs B out at once.
  await a.getByRole('button', { name: 'Sign out' }).click();
  await expect(a).toHaveURL(/\/login\?reason=signed_out/);
  await expect(expired(b)).toBeVisible();
  await expect(expired(b)).toContainText('signed out');
});

test('5. a status poll every few seconds does not keep the session alive', async ({ page, request }) => {
  await signIn(page, newUser('poller', 'pw-secret'), 'pw-secret');
  let waited = 0;
  let last = await status(page);
  while (last.signed_in && waited < 2 * IDLE) {
    await advanceServerClock(request, 5);
    waited += 5;
    last = await status(page);
  }
  expect(last.signed_in).toBe(false);
  expect(last.reason).toBe('idle');
  expect(waited).toBeLessThanOrEqual(IDLE + 5);
});

test('6. a hidden tab shows the countdown in its title; after sleep the countdown is right', async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('sleeper', 'pw-secret', 5), 'pw-secret');
  await hydrated(page);

  // The laptop sleeps: the wall clock and the server move on 13 minutes,
  // the page's monotonic clock and its timers do not.
  const wall = await page.evaluate(() => Date.now());
  await advanceServerClock(request, IDLE - WARNING);
  await page.clock.setSystemTime(wall + (IDLE - WARNING) * 1000);
  const asked = page.waitForRequest((r) => r.url().includes('/api/session_status'));
  await page.clock.runFor(2_000);
  await asked;
  await expect(warning(page)).toBeVisible();
  await expect(warning(page).getByRole('timer')).toHaveText(/^1:5\d$/);

  // Hidden: the title counts down; shown again: the page re-asks the server.
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await page.clock.runFor(1_000);
  await expect(page).toHaveTitle(/^1:5\d · Session expiring$/);
  const reasked = page.waitForRequest((r) => r.url().includes('/api/session_status'));
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await reasked;
  await expect(page).toHaveTitle('session-guard');
});

test('7. no accessibility violations on the login page, the items page and both dialogs', async ({ page, request }) => {
  const scan = async () => {
    const results = await new AxeBuilder({ page }).analyze();
    expect(results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`)).toEqual([]);
  };
  await page.goto('/login?reason=idle');
  await hydrated(page);
  await scan();

  await page.clock.install();
  await signIn(page, newUser('axe', 'pw-secret', 25), 'pw-secret');
  await hydrated(page);
  await scan();

  await pass(page, request, IDLE - WARNING + 1);
  await expect(warning(page)).toBeVisible();
  await scan();

  await pass(page, request, WARNING + 2);
  await expect(expired(page)).toBeVisible();
  await scan();
});

test('8. at the maximum lifetime the warning says so, offers no Stay signed in, and stays closed once read', async ({ page, request }) => {
  await page.clock.install();
  await signIn(page, newUser('limit', 'pw-secret', 1), 'pw-secret');
  // Active on the server for all but the last 800 s of the maximum lifetime
  // (the browser's clock stands still meanwhile).
  for (let passed = 0; passed < ABSOLUTE - 800; passed += 800) {
    await advanceServerClock(request, 800);
    const res = await page.request.post('/api/extend_session', { headers: { Accept: 'application/json' } });
    expect(res.status()).toBe(200);
  }
  await page.reload();
  await hydrated(page);

  // 115 s to the limit, 215 s to the idle deadline: the limit comes first.
  await pass(page, request, 800 - WARNING + 5);
  await expect(warning(page)).toBeVisible();
  await expect(warning(page)).toContainText('maximum length');
  await expect(warning(page).getByRole('button', { name: 'Stay signed in' })).toHaveCount(0);
  const read = warning(page).getByRole('button', { name: 'Continue working' });
  await expect(read).toBeFocused();
  const scan = await new AxeBuilder({ page }).analyze();
  expect(scan.violations.map((v) => v.id)).toEqual([]);

  await read.click();
  await expect(warning(page)).toHaveCount(0);
  await pass(page, request, 60);
  await expect(warning(page)).toHaveCount(0);
  expect((await status(page)).signed_in).toBe(true);

  await pass(page, request, 60);
  await expect(expired(page)).toBeVisible();
  await expect(expired(page)).toContainText('maximum length');
});
