import { defineConfig } from '@playwright/test';
import chromium from './chromium.json';

// The tests through nginx (end2end/proxy/), started by scripts/e2e-proxy,
// which runs two instances and nginx in front and says where in the
// environment: E2E_PROXY_URL (https, a self-signed certificate),
// E2E_INSTANCES (the instances' own plain-HTTP addresses), E2E_DATABASE_URL.
export default defineConfig({
  testDir: './proxy',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.E2E_PROXY_URL,
    ignoreHTTPSErrors: true,
    trace: 'retain-on-failure',
    launchOptions: chromium,
  },
});
