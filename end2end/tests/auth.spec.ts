import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './support';

test('sign in as demo, see Items, sign out', async ({ page }) => {
  await signIn(page, 'demo', 'demo');
  await expect(page).toHaveURL(/\/items$/);
  await expect(page.getByText(/^Page 1 of 50$/)).toBeVisible();
  await expect(page.getByRole('list').getByRole('listitem')).toHaveCount(20);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
  await expect(page.getByText(/signed out/)).toBeVisible();

  // The session is gone on the server: the items page sends us back.
  await page.goto('/items');
  await expect(page).toHaveURL(/\/login/);
});

test('a wrong password shows the alert', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Username').fill('demo');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid username or password');
  await expect(page).toHaveURL(/\/login/);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('signing in and the wrong-password alert work', async ({ page }) => {
    await page.goto('/login');
    await page.getByLabel('Username').fill('demo');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Invalid username or password');

    await page.getByLabel('Username').fill('demo');
    await page.getByLabel('Password').fill('demo');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();
    await expect(page.getByText(/^Page 1 of \d+$/)).toBeVisible();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.getByText(/signed out/)).toBeVisible();
  });
});

// A shared computer: after signing out, the next person presses Back.
// Pages and answers are `no-store`, so neither the back-forward cache nor
// the HTTP cache shows the items again: Back asks the server, which sends
// the login page.
for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? 'Back after sign-out' : 'Back after sign-out, without JavaScript', () => {
    test.use({ javaScriptEnabled });

    test('shows no item', async ({ page }) => {
      await page.goto('/login');
      await page.getByLabel('Username').fill('demo');
      await page.getByLabel('Password').fill('demo');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('list').getByRole('listitem').first()).toBeVisible();
      const items = await page.request.get('/items');
      expect(items.headers()['cache-control']).toBe('no-store');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await expect(page.getByText(/signed out/)).toBeVisible();
      await page.goBack();
      if (!javaScriptEnabled) {
        await expect(page).toHaveURL(/\/login/);
      }
      // With the script, Back is the router's: the list asks the server
      // again, is refused, and the page offers to sign in instead.
      await expect(page.getByRole('listitem')).toHaveCount(0);
    });
  });
}
