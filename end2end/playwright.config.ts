import { defineConfig } from '@playwright/test';
import chromium from './chromium.json';
import { baseURL, databaseUrl, dbFile, port } from './env';

// One worker: tests move the server's clock, which every session shares.
export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    // Debian's chromium (shared with bench/visits.mjs).
    launchOptions: chromium,
  },
  webServer: {
    cwd: '..',
    command: `mkdir -p "$(dirname '${dbFile}')" && rm -f '${dbFile}'* && target/release/session-guard seed-demo && exec target/release/session-guard serve`,
    url: `${baseURL}/login`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      DATABASE_URL: databaseUrl,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_ENV: 'PROD',
      SESSION_GUARD_TEST_HOOKS: 'true',
      RUST_LOG: 'warn',
    },
  },
});
