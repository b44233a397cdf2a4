// Drives headless Chromium through the UI of an agent with ACLs for tests/ui.rs:
//   node tokens.mjs <agent address> <secret ID> <screenshot dir> <chromium path>
// Opens the jobs page without a token and expects the prompt a 403 brings, follows it
// to the token page, sets the token, and expects to land back on the jobs list with
// the job in it; the token is kept in local storage under Nomad's key, so a reload
// still sees the jobs. Prints one line per step; exits non-zero on the first failure.

import { openSession, parseArgs } from './session.mjs';

const { base, job: secret, shots, executablePath } = parseArgs('tokens.mjs');
const { browser, page, problems, shot, done } = await openSession({ base, shots, executablePath, height: 700 });
let step = 'start';

/** The 403s this script provokes on purpose are logged by Chromium as failed loads. */
function forgetExpectedRefusals() {
  for (let i = problems.length - 1; i >= 0; i -= 1) {
    if (problems[i].includes('403')) problems.splice(i, 1);
  }
}

try {
  step = 'open the jobs page without a token';
  await page.goto(`${base}/ui/jobs`);
  const prompt = page.locator('#token-prompt');
  await prompt.waitFor();
  const text = await prompt.textContent();
  if (!text.includes('Permission denied')) throw new Error(`prompt says ${JSON.stringify(text)}`);
  await shot('acl-prompt');
  forgetExpectedRefusals();
  done('a 403 brings the token prompt');

  step = 'set the token';
  await prompt.getByRole('link', { name: 'Sign in with an ACL token' }).click();
  await page.waitForURL(/\/ui\/settings\/tokens/);
  await page.locator('#token-secret').fill(secret);
  await page.locator('#set-token').click();
  await page.waitForURL(/\/ui\/jobs$/);
  await page.locator('a', { hasText: 'ui-hello' }).first().waitFor();
  const stored = await page.evaluate(() => window.localStorage.getItem('nomadTokenSecret'));
  if (stored !== secret) throw new Error('the token is not in local storage under nomadTokenSecret');
  forgetExpectedRefusals();
  done('the token is set, kept in local storage, and the jobs list shows the job');

  step = 'reload';
  await page.reload();
  await page.locator('a', { hasText: 'ui-hello' }).first().waitFor();
  await page.goto(`${base}/ui/settings/tokens`);
  await page.locator('#token-name', { hasText: 'Bootstrap Token' }).waitFor();
  await shot('acl-signed-in');
  done('after a reload the token still works; the token page names it');
} catch (error) {
  console.error(`FAILED at "${step}": ${error.message}`);
  await shot('acl-failure').catch(() => {});
  await browser.close();
  process.exit(1);
}
await browser.close();
