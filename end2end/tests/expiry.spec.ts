// The classic failure: a page open past the timeout, then a click. The call
// gets a typed 401, the page stays, the user signs in over it, and what
// failed runs again. Only a full reload still goes to the login page.
import { expect, test } from '@playwright/test';
import { advanceServerClock, hydrated, newUser, signIn } from './support';

const IDLE = 900;

test('idle past the timeout, Next: sign in over the page, land on page 2', async ({ page, request }) => {
  const name = newUser('reader', 'pw-secret', 60);
  await signIn(page, name, 'pw-secret');
  await hydrated(page);
  await expect(page.getByText('Page 1 of 3')).toBeVisible();

  // The user reads page 1 for longer than the session lasts.
  await advanceServerClock(request, IDLE + 1);

  const answer = page.waitForResponse((r) => r.url().includes('/api/list_items'));
  await page.getByRole('link', { name: 'Next' }).click();
  const res = await answer;
  expect(res.status()).toBe(401);
  expect(res.headers()['content-type']).toContain('application/json');
  expect(await res.json()).toMatchObject({ error: 'session_expired', reason: 'idle' });

  const dialog = page.getByRole('dialog', { name: /Session expired/ });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('inactivity');
  await expect(page).toHaveURL(/\/items\?page=2$/);
  await expect(page.locator('.guarded')).toHaveClass(/obscured/);

  await dialog.getByLabel('Username').fill(name);
  await dialog.getByLabel('Password').fill('pw-secret');
  await dialog.getByRole('button', { name: 'Sign in' }).click();

  await expect(dialog).toHaveCount(0);
  await expect(page.getByText('Page 2 of 3')).toBeVisible();
  await expect(page.getByRole('list').getByRole('listitem').first()).toHaveText(/Item 40/);
});

test('from the keyboard: after signing in over the page, focus is on the page asked for', async ({ page, request }) => {
  const name = newUser('keyreader', 'pw-secret', 60);
  await signIn(page, name, 'pw-secret');
  await hydrated(page);
  await expect(page.getByText('Page 1 of 3')).toBeVisible();
  await advanceServerClock(request, IDLE + 1);

  await page.getByRole('link', { name: 'Next' }).focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: /Session expired/ });
  // The page knows its user: the dialog asks for the password first.
  await expect(dialog.getByLabel('Password')).toBeFocused();
  await page.keyboard.type('pw-secret');
  await page.keyboard.press('Enter');

  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('list', { name: 'Items, page 2 of 3' })).toBeFocused();
});

test('a save refused on expiry runs again after signing in', async ({ page, request }) => {
  const name = newUser('saver', 'pw-secret', 3);
  await signIn(page, name, 'pw-secret');
  await page.getByRole('link', { name: 'New item' }).click();
  await hydrated(page);
  await page.getByLabel('Title').fill('Written slowly');
  await page.getByLabel('Description').fill('Forty minutes of careful thought.');
  await advanceServerClock(request, IDLE + 1);

  await page.getByRole('button', { name: 'Save' }).click();
  const dialog = page.getByRole('dialog', { name: /Session expired/ });
  await expect(dialog).toBeVisible();
  await expect(page.getByLabel('Description', { exact: true })).toHaveValue('Forty minutes of careful thought.');
  await dialog.getByLabel('Password').fill('pw-secret');
  await dialog.getByRole('button', { name: 'Sign in' }).click();

  await expect(page).toHaveURL(/\/items$/);
  await expect(page.getByRole('list').getByRole('listitem').first()).toContainText('Written slowly');
});

test('a full reload of an expired page goes to the login page with reason and next', async ({ page, request }) => {
  const name = newUser('reloader', 'pw-secret', 45);
  await signIn(page, name, 'pw-secret');
  await page.goto('/items?page=2');
  await hydrated(page);
  await advanceServerClock(request, IDLE + 1);
  await page.reload();
  await expect(page).toHaveURL(/\/login\?reason=idle&next=%2Fitems%3Fpage%3D2/);
  await expect(page.getByText(/inactivity/)).toBeVisible();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill('pw-secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Page 2 of 3')).toBeVisible();
});
