// The app as it is deployed: nginx (deploy/nginx.conf) terminating TLS in
// front of two instances on one PostgreSQL database, round robin. Started by
// scripts/e2e-proxy, which also checks that both instances served calls.
import * as https from 'https';
import * as http from 'http';
import { APIRequestContext, expect, Page, test } from '@playwright/test';
import { hydrated, newUser } from '../tests/support';

const PASSWORD = 'pw-secret';
const IDLE = 900;
const WARNING = 120;
const instances = (process.env.E2E_INSTANCES ?? '').split(',').filter(Boolean);
const proxy = new URL(process.env.E2E_PROXY_URL ?? 'https://127.0.0.1:1');

/** Time passes for the page and for both instances (each has its own clock). */
async function pass(page: Page, request: APIRequestContext, secs: number) {
  for (const instance of instances) {
    const res = await request.post(`${instance}/__test/clock/advance?secs=${secs}`);
    expect(res.status()).toBe(200);
  }
  await page.clock.fastForward(secs * 1000);
}

const warning = (page: Page) => page.getByRole('alertdialog', { name: /session/ });

test('signed in over https: a secure cookie, paging, the warning answered, signed out', async ({ page, context, request }) => {
  expect(instances).toHaveLength(2);
  await page.clock.install();
  const name = newUser('proxied', PASSWORD, 45);
  const login = await page.goto('/login');
  expect(login?.headers()['strict-transport-security']).toBe('max-age=31536000');
  await hydrated(page);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === '__Host-session_guard');
  expect(session, JSON.stringify(cookies)).toBeDefined();
  expect(session?.secure).toBe(true);
  expect(session?.httpOnly).toBe(true);
  expect(session?.path).toBe('/');
  expect(cookies.find((c) => c.name === 'session_guard')).toBeUndefined();

  // Paging: each call may land on either instance.
  await hydrated(page);
  for (const [link, position] of [
    ['Next', 'Page 2 of 3'],
    ['Next', 'Page 3 of 3'],
    ['Previous', 'Page 2 of 3'],
    ['Previous', 'Page 1 of 3'],
  ]) {
    await page.getByRole('link', { name: link }).click();
    await expect(page.getByText(position)).toBeVisible();
  }

  // The warning comes, on both instances' time, and is answered.
  await pass(page, request, IDLE - WARNING + 5);
  await expect(warning(page)).toBeVisible();
  await warning(page).getByRole('button', { name: 'Stay signed in' }).click();
  await expect(warning(page)).toHaveCount(0);
  const status = await page.request.get('/api/session_status');
  expect((await status.json()).idle_remaining_secs).toBeGreaterThanOrEqual(IDLE - 1);
  expect(status.headers()['strict-transport-security']).toBe('max-age=31536000');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
  await page.goto('/items');
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
});

/** The browser's cookie called `name`, if it holds one. */
async function cookieNamed(page: Page, name: string) {
  return (await page.context().cookies()).find((c) => c.name === name);
}

async function signInOnLoginPage(page: Page, name: string) {
  await hydrated(page);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();
}

test('over https the browser obeys every removal: no session cookie after sign-out, no reason cookie after signing in', async ({ page }) => {
  const name = newUser('removals', PASSWORD, 3);
  await page.goto('/login');
  await signInOnLoginPage(page, name);
  expect(await cookieNamed(page, '__Host-session_guard')).toBeDefined();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
  const afterSignOut = await page.context().cookies();
  expect(afterSignOut.find((c) => c.name === '__Host-session_guard'), JSON.stringify(afterSignOut)).toBeUndefined();
  expect(afterSignOut.find((c) => c.name === '__Host-session_guard_ended')?.value).toBe('signed_out');

  await signInOnLoginPage(page, name);
  const afterSignIn = await page.context().cookies();
  expect(afterSignIn.find((c) => c.name === '__Host-session_guard_ended'), JSON.stringify(afterSignIn)).toBeUndefined();
  expect(afterSignIn.find((c) => c.name === '__Host-session_guard')?.secure).toBe(true);
});

type Answer = { status: number; body: string };

/** A sign-in from a plain HTTP client bound to `from` (a loopback address). */
function signIn(target: URL, from: string, name: string, password: string, headers: Record<string, string> = {}) {
  const body = new URLSearchParams({ username: name, password }).toString();
  const options = {
    method: 'POST',
    host: target.hostname,
    port: target.port,
    path: '/api/sign_in',
    localAddress: from,
    rejectUnauthorized: false,
    headers: {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(body),
      ...headers,
    },
  };
  return new Promise<Answer>((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    };
    const req = target.protocol === 'https:' ? https.request(options, done) : http.request(options, done);
    req.on('error', reject);
    req.end(body);
  });
}

test("one client's wrong passwords do not throttle another client behind the proxy", async () => {
  const name = newUser('shared-proxy', PASSWORD);
  // nginx sees 127.0.0.2 and 127.0.0.3: two clients, one proxy address.
  for (let i = 0; i < 5; i++) {
    expect((await signIn(proxy, '127.0.0.2', name, 'guess')).status).toBe(401);
  }
  expect((await signIn(proxy, '127.0.0.2', name, PASSWORD)).status).toBe(429);
  expect((await signIn(proxy, '127.0.0.3', name, PASSWORD)).status).toBe(200);
  // A forgery through the proxy lands left of what nginx appends.
  const forged = { 'x-forwarded-for': '127.0.0.9' };
  expect((await signIn(proxy, '127.0.0.2', name, PASSWORD, forged)).status).toBe(429);
});

test('an unreadable X-Forwarded-For does not let a Forwarded header choose the client', async () => {
  const name = newUser('forwarded', PASSWORD);
  // nginx appends to a line it cannot read; the client's own Forwarded
  // would name a new address each time.
  for (let i = 0; i < 5; i++) {
    const forged = { 'x-forwarded-for': '\u00ff', forwarded: `for=203.0.113.${i}` };
    expect((await signIn(proxy, '127.0.0.5', name, 'guess', forged)).status).toBe(401);
  }
  const forged = { 'x-forwarded-for': '\u00ff', forwarded: 'for=203.0.113.99' };
  expect((await signIn(proxy, '127.0.0.5', name, PASSWORD, forged)).status).toBe(429);
});

test('a forged X-Forwarded-For sent straight to an instance is ignored', async () => {
  const name = newUser('direct', PASSWORD);
  const instance = new URL(instances[0]);
  for (let i = 0; i < 5; i++) {
    const forged = { 'x-forwarded-for': `192.0.2.${i}` };
    expect((await signIn(instance, '127.0.0.4', name, 'guess', forged)).status).toBe(401);
  }
  const fresh = { 'x-forwarded-for': '192.0.2.99' };
  expect((await signIn(instance, '127.0.0.4', name, PASSWORD, fresh)).status).toBe(429);
});

test('a same-site request from another origin is refused', async ({ page, request }) => {
  const name = newUser('sibling', PASSWORD);
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();
  const cookie = (await page.context().cookies()).find((c) => c.name === '__Host-session_guard');
  const res = await request.post('/api/create_item', {
    headers: {
      accept: 'application/json',
      cookie: `__Host-session_guard=${cookie?.value}`,
      origin: `https://evil.localhost:${proxy.port}`,
      'sec-fetch-site': 'same-site',
    },
    form: { title: 'forged', description: '' },
  });
  expect(res.status()).toBe(403);
  expect((await res.json()).error).toBe('forbidden');
  await page.reload();
  await expect(page.getByText('No items yet')).toBeVisible();
});
