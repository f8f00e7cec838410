import { expect, test } from '@playwright/test';
import { hydrated, newUser, signIn } from './support';

const rows = (page: import('@playwright/test').Page) => page.getByRole('list').getByRole('listitem');

test('Next pages through server functions, and reload, back and forward keep the page', async ({ page }) => {
  const name = newUser('pager', 'pw-secret', 95);
  await signIn(page, name, 'pw-secret');
  await hydrated(page);
  await expect(page.getByText('Page 1 of 5')).toBeVisible();
  await expect(page.getByText('Previous', { exact: true })).not.toHaveAttribute('href');

  let fullLoads = 0;
  page.on('load', () => (fullLoads += 1));
  for (const n of [2, 3]) {
    const listed = page.waitForResponse((r) => r.url().includes('/api/list_items') && r.status() === 200);
    await page.getByRole('link', { name: 'Next' }).click();
    await listed;
    await expect(page).toHaveURL(new RegExp(`/items\\?page=${n}$`));
    await expect(page.getByText(`Page ${n} of 5`)).toBeVisible();
  }
  expect(fullLoads).toBe(0);
  await expect(rows(page).first()).toHaveText(/Item 55/);

  await page.reload();
  await expect(page.getByText('Page 3 of 5')).toBeVisible();
  await expect(rows(page).first()).toHaveText(/Item 55/);

  await page.goBack();
  await expect(page).toHaveURL(/page=2$/);
  await expect(page.getByText('Page 2 of 5')).toBeVisible();
  await page.goForward();
  await expect(page.getByText('Page 3 of 5')).toBeVisible();

  await page.goto('/items?page=5');
  await expect(rows(page)).toHaveCount(15);
  await expect(page.getByRole('link', { name: 'Next' })).toHaveCount(0);
});

test('a long item is saved and found first on page 1', async ({ page }) => {
  const name = newUser('writer', 'pw-secret', 30);
  await signIn(page, name, 'pw-secret');
  await page.getByRole('link', { name: 'New item' }).click();
  await hydrated(page);
  const description = 'A long and careful text. '.repeat(400);
  await page.getByLabel('Title').fill('My long essay');
  await page.getByLabel('Description').fill(description);
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/items$/);
  await expect(rows(page).first()).toContainText('My long essay');
  await expect(page.getByText('Page 1 of 2')).toBeVisible();
});

test('an invalid title is refused at the field and the text is kept', async ({ page }) => {
  const name = newUser('writer', 'pw-secret');
  await signIn(page, name, 'pw-secret');
  await page.goto('/items/new');
  await hydrated(page);
  await page.getByLabel('Title').fill('   ');
  await page.getByLabel('Description').fill('Half a thought');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('#title-error')).toHaveText('Title is required.');
  await expect(page.getByLabel('Title')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Description')).toHaveValue('Half a thought');
});

test('bad page numbers show a message and a way back', async ({ page }) => {
  const name = newUser('lost', 'pw-secret', 5);
  await signIn(page, name, 'pw-secret');
  for (const bad of ['0', 'abc', '99999999999999999999', '2']) {
    const res = await page.goto(`/items?page=${bad}`);
    expect(res?.status()).toBe(400);
    await expect(page.getByRole('alert')).toBeVisible();
    await page.getByRole('link', { name: 'Go to page 1' }).click();
    await expect(page.getByText('Page 1 of 1')).toBeVisible();
  }
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('page links still work', async ({ page }) => {
    const name = newUser('nojs', 'pw-secret', 45);
    await page.goto('/login');
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill('pw-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByText('Page 1 of 3')).toBeVisible();
    await page.getByRole('link', { name: 'Next' }).click();
    await expect(page).toHaveURL(/page=2$/);
    await expect(page.getByText('Page 2 of 3')).toBeVisible();
    await page.getByRole('link', { name: 'Previous' }).click();
    await expect(page.getByText('Page 1 of 3')).toBeVisible();
  });
});

test('while the next page loads, the old page stays and a loading state shows', async ({ page }) => {
  const name = newUser('slow', 'pw-secret', 45);
  await signIn(page, name, 'pw-secret');
  await hydrated(page);
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/list_items', async (route) => {
    await gate;
    await route.continue();
  });
  await page.getByRole('link', { name: 'Next' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Loading' })).toBeVisible();
  await expect(page.getByText('Page 1 of 3')).toBeVisible();
  await expect(rows(page)).toHaveCount(20);
  release();
  await expect(page.getByText('Page 2 of 3')).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Loading' })).toHaveCount(0);
});

test('a keyboard user who pages on lands at the start of the new page', async ({ page }) => {
  const name = newUser('keys', 'pw-secret', 45);
  await signIn(page, name, 'pw-secret');
  await hydrated(page);
  await expect(page.getByText('Page 1 of 3')).toBeVisible();
  const pager = page.getByRole('navigation', { name: 'Pagination' });

  await page.getByRole('link', { name: 'Next' }).focus();
  await page.keyboard.press('Enter');
  // The followed link is gone with the old page: focus goes to the new
  // list, named for its page, and the view shows its first item.
  await expect(page.getByRole('list', { name: 'Items, page 2 of 3' })).toBeFocused();
  await expect(rows(page).first()).toBeInViewport();
  // Neither pager link is announced as the current page.
  await expect(pager.locator('[aria-current]')).toHaveCount(0);

  // On to the last page, and back with Previous: the same each time.
  await pager.getByRole('link', { name: 'Next' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('list', { name: 'Items, page 3 of 3' })).toBeFocused();
  await pager.getByRole('link', { name: 'Previous' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('list', { name: 'Items, page 2 of 3' })).toBeFocused();
});
