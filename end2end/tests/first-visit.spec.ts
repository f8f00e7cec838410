// What a first and a repeat visit cost on the wire: the page's code and
// style come compressed, under content-hashed names kept for a year, so a
// repeat visit downloads none of them. (The release build of scripts/test
// is made with LEPTOS_HASH_FILES=true and --precompress.)
import { expect, Page, test } from '@playwright/test';
import { hydrated, newUser } from './support';

type Fetched = { url: string; encoding: string; cacheControl: string; vary: string; wire: number; cached: boolean };

/** Records every response of `page` with its bytes on the wire (Chromium's own count). */
async function recordWire(page: Page): Promise<Fetched[]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const byId = new Map<string, Fetched>();
  const fetched: Fetched[] = [];
  cdp.on('Network.responseReceived', (event) => {
    const headers = Object.fromEntries(
      Object.entries(event.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    const entry: Fetched = {
      url: event.response.url,
      encoding: headers['content-encoding'] ?? '',
      cacheControl: headers['cache-control'] ?? '',
      vary: headers['vary'] ?? '',
      wire: 0,
      cached: Boolean(event.response.fromDiskCache || event.response.fromPrefetchCache),
    };
    byId.set(event.requestId, entry);
    fetched.push(entry);
  });
  cdp.on('Network.requestServedFromCache', (event) => {
    const entry = byId.get(event.requestId);
    if (entry) entry.cached = true;
  });
  cdp.on('Network.loadingFinished', (event) => {
    const entry = byId.get(event.requestId);
    if (entry) entry.wire = event.encodedDataLength;
  });
  return fetched;
}

const pkg = (fetched: Fetched[]) => fetched.filter((f) => new URL(f.url).pathname.startsWith('/pkg/'));

test('the page code is compressed and hashed, and a repeat visit downloads none of it', async ({ page }) => {
  const first = await recordWire(page);
  await page.goto('/login');
  await hydrated(page);
  const code = pkg(first);
  const names = code.map((f) => new URL(f.url).pathname);
  for (const kind of ['js', 'wasm', 'css']) {
    expect(names.some((n) => new RegExp(`^/pkg/session-guard\\.[A-Za-z0-9_-]+\\.${kind}$`).test(n)), `${kind}: ${names}`).toBe(true);
  }
  for (const file of code) {
    expect(file.encoding, file.url).toBe('br');
    expect(file.cacheControl, file.url).toBe('public, max-age=31536000, immutable');
    expect(file.vary.toLowerCase(), file.url).toContain('accept-encoding');
  }
  const page1 = first.reduce((sum, f) => sum + f.wire, 0);
  console.log(`first visit of /login: ${first.length} responses, ${(page1 / 1024).toFixed(1)} KiB on the wire`);

  // Later, the user comes back: a new navigation, the same browser.
  first.length = 0;
  await page.goto('about:blank');
  await page.goto('/login');
  await hydrated(page);
  const again = pkg(first);
  expect(again.length).toBeGreaterThan(0);
  for (const file of again) {
    expect(file.cached || file.wire === 0, `${file.url} came over the wire again (${file.wire} bytes)`).toBe(true);
  }
  const page2 = first.reduce((sum, f) => sum + f.wire, 0);
  console.log(`repeat visit of /login: ${(page2 / 1024).toFixed(1)} KiB on the wire`);
  expect(page2).toBeLessThan(10 * 1024);
});

test('a signed-in first visit asks nothing once hydrated: the session status comes with the page', async ({ page, context }) => {
  const name = newUser('first-visit', 'first-visit-pw');
  const signIn = await context.request.post('/api/sign_in', {
    form: { username: name, password: 'first-visit-pw' },
    headers: { Accept: 'application/json' },
  });
  expect(signIn.ok()).toBe(true);
  const calls: string[] = [];
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    if (path.startsWith('/api/')) calls.push(path);
  });
  await page.clock.install();
  await page.goto('/items?page=2');
  await hydrated(page);
  // Long enough for a call made on mount to be seen.
  await page.waitForTimeout(1000);
  expect(calls).toEqual([]);

  // The page counts down from what came with it: 2 s past idle (900 s)
  // minus warning (120 s) in the page alone, the warning is open with
  // about 1:58 left, and still nothing was asked.
  await page.clock.fastForward((900 - 120 + 2) * 1000);
  const warning = page.getByRole('alertdialog', { name: /session/ });
  await expect(warning).toBeVisible();
  await expect(warning.getByRole('timer')).toHaveText(/^1:5[6-8]$/);
  expect(calls).toEqual([]);
});
