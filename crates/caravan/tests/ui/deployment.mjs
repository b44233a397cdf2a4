// Drives headless Chromium through a canary deployment for tests/ui.rs:
//   node deployment.mjs <agent address> <job id> <screenshot dir> <chromium path>
// Opens the job page while version 1's canary waits for promotion: the active
// deployment shows its canary and the manual-promotion description, the allocations
// table marks the canary; the Promote button promotes it, and the page follows the
// rollout until the deployment is successful. Prints one line per step; exits non-zero
// on the first failure.

import { openSession, parseArgs } from './session.mjs';

const { base, job, shots, executablePath } = parseArgs('deployment.mjs');
const { browser, page, shot, done } = await openSession({ base, shots, executablePath, height: 1000 });
let step = 'start';
const panel = (title) => page.locator('section.panel', { has: page.locator('h2', { hasText: new RegExp(`^${title}$`) }) });

try {
  step = 'open the job page';
  await page.goto(`${base}/ui/jobs/${job}`);
  const deployment = panel('Active deployment');
  await deployment.locator('dd', { hasText: 'Deployment is running but requires manual promotion' }).waitFor({ timeout: 60000 });
  await deployment.locator('tbody tr').first().locator('td', { hasText: /^1\/1$/ }).waitFor();
  await panel('Allocations').locator('tbody tr .badge', { hasText: /^canary$/ }).first().waitFor();
  await shot('deployment-canary');
  done('the active deployment shows its canary waiting for promotion');

  step = 'promote';
  await page.locator('#promote-canaries').click();
  const latest = panel('Latest deployment');
  await latest.locator('.badge', { hasText: /^successful$/ }).waitFor({ timeout: 90000 });
  await latest.locator('dd', { hasText: 'Deployment completed successfully' }).waitFor();
  await shot('deployment-promoted');
  done('promoted from the page; the deployment completed successfully');
} catch (error) {
  console.error(`FAILED at "${step}": ${error.message}`);
  await shot('deployment-failure').catch(() => {});
  await browser.close();
  process.exit(1);
}
await browser.close();
