// The sessions page (ASVS 3.3.4): a user signed in from several browsers sees
// them all and ends the others after giving the password again; a browser
// signed out this way says so on its next click and on the login page.
import AxeBuilder from '@axe-core/playwright';
import { Browser, expect, Page, test } from '@playwright/test';
import { hydrated, newUser, signIn } from './support';

const PASSWORD = 'pw-secret';

/** A page in a browser of its own (a separate cookie jar), signed in. */
async function signedIn(browser: Browser, name: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, name, PASSWORD);
  await hydrated(page);
  return page;
}

async function noAccessibilityViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`)).toEqual([]);
}

const rows = (page: Page) => page.getByRole('table').locator('tbody').getByRole('row');
const confirmDialog = (page: Page) => page.getByRole('dialog', { name: 'Confirm it is you' });
const expired = (page: Page) => page.getByRole('dialog', { name: /Session expired/ });

async function openSessions(page: Page) {
  await page.getByRole('link', { name: 'Your sessions' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Your sessions' })).toBeVisible();
}

async function confirmWith(page: Page, password: string) {
  const dialog = confirmDialog(page);
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Password')).toBeFocused();
  await dialog.getByLabel('Password').fill(password);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
}

test('a user ends another session after giving the password, and that browser is told why', async ({ browser }) => {
  const name = newUser('devices', PASSWORD, 45);
  const first = await signedIn(browser, name);
  const second = await signedIn(browser, name);

  await openSessions(first);
  await expect(rows(first)).toHaveCount(2);
  await noAccessibilityViolations(first);
  const mine = rows(first).filter({ hasText: 'This session' });
  await expect(mine).toHaveCount(1);
  await expect(mine.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  const other = rows(first).filter({ hasNotText: 'This session' });
  await expect(other).toContainText(/Chrom/);

  // A wrong password is refused in the dialog, and nothing ends.
  await other.getByRole('button', { name: 'Sign out' }).click();
  await confirmWith(first, 'not-my-password');
  await expect(confirmDialog(first).getByRole('alert')).toContainText('password is not right');
  await noAccessibilityViolations(first);
  await expect(rows(first)).toHaveCount(2);
  await confirmDialog(first).getByRole('button', { name: 'Cancel' }).click();
  await expect(confirmDialog(first)).toHaveCount(0);

  await other.getByRole('button', { name: 'Sign out' }).click();
  await confirmWith(first, PASSWORD);
  await expect(confirmDialog(first)).toHaveCount(0);
  await expect(first.getByRole('status').filter({ hasText: 'Signed out 1 session.' })).toBeVisible();
  await expect(rows(first)).toHaveCount(1);
  await expect(rows(first)).toContainText('This session');
  // Focus went to what happened, not to the button that went with its row.
  await expect(first.getByRole('status').filter({ hasText: 'Signed out 1 session.' })).toBeFocused();

  // The second browser learns it on its next click, over its open page...
  await second.getByRole('link', { name: 'Next' }).click();
  await expect(expired(second)).toBeVisible();
  await expect(expired(second)).toContainText('another session');
  // ...and again on the login page after a reload.
  await second.reload();
  await expect(second).toHaveURL(/\/login\?reason=revoked/);
  await expect(second.getByText('You were signed out from another session.')).toBeVisible();

  // The first is still signed in.
  await first.getByRole('link', { name: 'Back to items' }).click();
  await expect(first.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();
  await expect(first.getByText('Page 1 of 3')).toBeVisible();
});

test('"Sign out all other sessions" ends every other browser of the user, and only those', async ({ browser }) => {
  const name = newUser('all-devices', PASSWORD, 3);
  const bystander = await signedIn(browser, newUser('bystander', PASSWORD, 3));
  const first = await signedIn(browser, name);
  const second = await signedIn(browser, name);
  const third = await signedIn(browser, name);

  await openSessions(first);
  await expect(rows(first)).toHaveCount(3);
  await first.getByRole('button', { name: 'Sign out all other sessions' }).click();
  await confirmWith(first, PASSWORD);
  await expect(first.getByRole('status').filter({ hasText: 'Signed out 2 sessions.' })).toBeVisible();
  await expect(rows(first)).toHaveCount(1);
  await expect(first.getByRole('button', { name: 'Sign out all other sessions' })).toBeDisabled();

  for (const page of [second, third]) {
    await page.reload();
    await expect(page).toHaveURL(/\/login\?reason=revoked/);
  }
  await bystander.reload();
  await expect(bystander.getByRole('heading', { level: 1, name: 'Items' })).toBeVisible();
  await first.reload();
  await expect(first.getByRole('heading', { level: 1, name: 'Your sessions' })).toBeVisible();
});

test('a confirmed sign-out refused because this session ended goes through once signed in again over the page', async ({
  browser,
}) => {
  const name = newUser('resend', PASSWORD, 3);
  const first = await signedIn(browser, name);
  const second = await signedIn(browser, name);
  await openSessions(first);
  await first.getByRole('button', { name: 'Sign out all other sessions' }).click();
  await expect(confirmDialog(first)).toBeVisible();
  await confirmDialog(first).getByLabel('Password').fill(PASSWORD);

  // Before the first confirms, the second signs it out.
  await openSessions(second);
  await second.getByRole('button', { name: 'Sign out all other sessions' }).click();
  await confirmWith(second, PASSWORD);
  await expect(second.getByRole('status').filter({ hasText: 'Signed out 1 session.' })).toBeVisible();

  // The refused request is not lost: signing in again over the page sends it.
  await confirmDialog(first).getByRole('button', { name: 'Confirm' }).click();
  await expect(expired(first)).toContainText('another session');
  await expired(first).getByLabel('Password').fill(PASSWORD);
  await expired(first).getByRole('button', { name: 'Sign in' }).click();
  await expect(expired(first)).toHaveCount(0);
  await expect(first.getByRole('status').filter({ hasText: 'Signed out 1 session.' })).toBeVisible();
  await expect(rows(first)).toHaveCount(1);
  await second.reload();
  await expect(second).toHaveURL(/\/login\?reason=revoked/);
});

test('the password dialog is modal: the page behind is out of reach until it closes', async ({ browser }) => {
  const name = newUser('modal', PASSWORD);
  const first = await signedIn(browser, name);
  await signedIn(browser, name);
  await openSessions(first);
  const opener = first.getByRole('button', { name: 'Sign out all other sessions' });
  await opener.click();
  const dialog = confirmDialog(first);
  await expect(dialog.getByLabel('Password')).toBeFocused();

  // A click on the backdrop leaves focus in the dialog: Shift+Tab wraps
  // inside it, never to the buttons behind, and Escape still closes it.
  await first.mouse.click(5, 5);
  await expect(dialog.getByLabel('Password')).toBeFocused();
  await first.keyboard.press('Shift+Tab');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await first.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(opener).toBeFocused();
  await expect(rows(first)).toHaveCount(2);
});
