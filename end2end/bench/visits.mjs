// Figure 7 of scripts/bench: what a first and a repeat visit cost a user, in
// Debian's Chromium with the network and CPU slowed as issue 21 measured
// them (9 Mbit/s down, 150 ms round trip, CPU 4x slower). For each page:
// the bytes on the wire (Chromium's own count, headers included), the time
// from the start of the navigation until the network is quiet (the end of
// the last response before 500 ms without any request), and the time until
// the page is hydrated (its WebAssembly has taken over).
//
//   node end2end/bench/visits.mjs BASE_URL USERNAME PASSWORD
//
// Prints one line per visit, `VISIT page=... kind=first|repeat wire_kib=...
// quiet_ms=... hydrated_ms=... code_kib=...`, for scripts/bench to read.
import { chromium } from '@playwright/test';
import launchOptions from '../chromium.json' with { type: 'json' };

const [base, username, password] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error('usage: node end2end/bench/visits.mjs BASE_URL USERNAME PASSWORD');
  process.exit(2);
}

const THROTTLE = {
  offline: false,
  latency: 150,
  downloadThroughput: (9 * 1000 * 1000) / 8,
  uploadThroughput: (9 * 1000 * 1000) / 8,
};
const CPU_SLOWDOWN = 4;
const QUIET_MS = 500;

// Debian's chromium, launched as the browser tests launch it.
const browser = await chromium.launch(launchOptions);

/** One visit of `path` in `page`, measured on a throttled connection. */
async function visit(page, path) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', THROTTLE);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
  const started = new Map();
  const requests = [];
  cdp.on('Network.requestWillBeSent', (e) => {
    // A redirect reuses the request's id: the first start is the one kept.
    const before = started.get(e.requestId);
    started.set(e.requestId, { url: e.request.url, start: before?.start ?? e.timestamp, document: e.type === 'Document' });
  });
  const done = (e, wire) => {
    const req = started.get(e.requestId);
    if (req) requests.push({ ...req, end: e.timestamp, wire });
  };
  cdp.on('Network.loadingFinished', (e) => done(e, e.encodedDataLength));
  cdp.on('Network.loadingFailed', (e) => done(e, 0));

  await page.goto(base + path, { waitUntil: 'networkidle' });
  // A visit that was sent elsewhere (a sign-in that did not take) would
  // measure another page.
  if (page.url() !== base + path) throw new Error(`${path} ended at ${page.url()}`);
  await page.locator('main[data-hydrated="true"]').waitFor();
  const hydratedAt = await page.evaluate(() => window.__hydratedAt);
  // networkidle already waited 500 ms without requests; wait once more so a
  // request the hydrated page makes late is counted too.
  await page.waitForTimeout(QUIET_MS);
  await cdp.detach();

  const navigation = requests.find((r) => r.document);
  if (!navigation) throw new Error(`${path}: no document request seen`);
  if (process.env.VISITS_VERBOSE) {
    for (const r of requests) {
      const at = (t) => Math.round((t - navigation.start) * 1000);
      console.error(`  ${at(r.start)}..${at(r.end)} ms ${(r.wire / 1024).toFixed(1)} KiB ${r.url.replace(base, '')}`);
    }
  }
  const end = Math.max(...requests.map((r) => r.end));
  const code = requests.filter((r) => new URL(r.url).pathname.startsWith('/pkg/'));
  const kib = (list) => (list.reduce((sum, r) => sum + r.wire, 0) / 1024).toFixed(1);
  return {
    wire_kib: kib(requests),
    code_kib: kib(code),
    requests: requests.length,
    quiet_ms: Math.round((end - navigation.start) * 1000),
    hydrated_ms: Math.round(hydratedAt),
  };
}

async function firstAndRepeat(label, path, signIn) {
  // A new context is a browser with an empty cache and no cookies.
  const context = await browser.newContext();
  // The moment the page marks itself hydrated, in the page's own time
  // (from the start of its navigation).
  await context.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelector('main[data-hydrated="true"]')) {
        window.__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
  });
  if (signIn) {
    const res = await context.request.post(`${base}/api/sign_in`, {
      form: { username, password },
      headers: { Accept: 'application/json' },
    });
    if (!res.ok()) throw new Error(`sign-in failed: ${res.status()} ${await res.text()}`);
  }
  const page = await context.newPage();
  for (const kind of ['first', 'repeat']) {
    // The repeat visit is a new navigation in the same browser, later.
    if (kind === 'repeat') await page.goto('about:blank');
    const m = await visit(page, path);
    console.log(
      `VISIT page=${label} kind=${kind} wire_kib=${m.wire_kib} code_kib=${m.code_kib} requests=${m.requests} quiet_ms=${m.quiet_ms} hydrated_ms=${m.hydrated_ms}`,
    );
  }
  await context.close();
}

try {
  await firstAndRepeat('/login', '/login', false);
  await firstAndRepeat('/items?page=2', '/items?page=2', true);
} finally {
  await browser.close();
}
