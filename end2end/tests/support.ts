// Helpers shared by the browser tests: users of their own, sign-in, and
// moving the server's clock (test hooks are on for the server under test).
import { execFileSync } from 'child_process';
import * as os from 'os';
import { APIRequestContext, expect, Page } from '@playwright/test';
import { binary, databaseUrl } from '../env';

let counter = 0;

/**
 * A fresh user with `items` generated items; answers its name. `add-user`
 * runs as the README's deployment runs it: from a directory with no site
 * (and no settings file) in it, the database named by `DATABASE_URL`.
 */
export function newUser(prefix: string, password: string, items = 0): string {
  counter += 1;
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
  execFileSync(binary, ['add-user', name, '--items', String(items)], {
    cwd: os.tmpdir(),
    input: `${password}\n`,
    env: { ...process.env, DATABASE_URL: databaseUrl, RUST_LOG: 'warn' },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  return name;
}

/** Waits until the page's WebAssembly has taken over the server's HTML. */
export async function hydrated(page: Page) {
  await page.locator('main[data-hydrated="true"]').waitFor();
}

export async function signIn(page: Page, name: string, password: string) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();
}

export async function advanceServerClock(request: APIRequestContext, secs: number) {
  const res = await request.post(`/__test/clock/advance?secs=${secs}`);
  expect(res.status()).toBe(200);
}
