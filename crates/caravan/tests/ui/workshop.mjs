// Drives headless Chromium through the workshop's step 3 for tests/workshop_web.rs:
//   node workshop.mjs <server address> <job id> <screenshot dir> <chromium path>
// Opens the Go service's job page (`/ui/jobs/hello-exec-go-web`, as the workshop says),
// sees the job and its allocation running, opens the allocation and its log, restarts it
// through the Restart button's confirmation, sees the task restart (`Restart Signaled`,
// `Restarting`, running again with one restart) and reads on stderr what `go run` said
// about the program it was running being stopped. Any page error, console error or
// request to another origin fails the run. Prints one line per step; exits non-zero on
// the first failure, after a screenshot of the page as it was.

import { openSession, parseArgs } from './session.mjs';

const { base, job, shots, executablePath } = parseArgs('workshop.mjs');
const { browser, page, problems, shot, done } = await openSession({ base, shots, executablePath, height: 1000 });
let step = 'start';
const panel = (title) => page.locator('section.panel', { has: page.locator('h2', { hasText: new RegExp(`^${title}$`) }) });

try {
  step = 'open the job page the workshop opens';
  await page.goto(`${base}/ui/jobs/${job}`);
  await page.locator('h1', { hasText: job }).waitFor();
  await page.locator('h1 .badge', { hasText: /^running$/ }).waitFor();
  const runningRow = panel('Allocations').locator('tbody tr', { has: page.locator('.badge', { hasText: /^running$/ }) });
  await runningRow.first().waitFor();
  await panel('Task groups').locator('tbody tr', { hasText: 'go-web (raw_exec)' }).waitFor();
  await shot('workshop-go-job');
  done(`job page of ${job}: running, its allocation running`);

  step = 'open the allocation and its log';
  await runningRow.first().locator('a[href^="/ui/allocations/"]').click();
  await page.waitForURL(/\/ui\/allocations\/[0-9a-f-]{36}$/);
  await page.locator('h1 .badge', { hasText: /^running$/ }).waitFor();
  const logs = panel('Logs');
  const log = logs.locator('pre.log');
  await log.waitFor();
  // main.go prints nothing: its stdout is empty, and the log stays open, following.
  await logs.locator('[role="status"]', { hasText: 'Streaming…' }).waitFor();
  const stdout = await log.textContent();
  if (stdout !== '') throw new Error(`expected the Go program's stdout to be empty, got ${JSON.stringify(stdout)}`);
  await shot('workshop-go-allocation');
  done('allocation running; its stdout log is open and empty (main.go writes nothing)');

  step = 'restart the allocation';
  await page.getByRole('button', { name: 'Restart', exact: true }).click();
  const confirm = page.getByRole('button', { name: 'Yes, restart', exact: true });
  await confirm.waitFor();
  await page.locator('.confirm-question', { hasText: 'This will restart the allocation in-place.' }).waitFor();
  await shot('workshop-go-restart-confirm');
  await confirm.click();
  const events = panel('Recent events');
  await events.locator('tbody tr', { hasText: 'Restart Signaled' })
    .filter({ hasText: 'User requested running tasks to restart' }).waitFor();
  await events.locator('tbody tr', { hasText: 'Restarting' }).filter({ hasText: 'Task restarting in 0s' }).waitFor();
  // Running again, one restart counted.
  const task = panel('Tasks').locator('tbody tr', { hasText: 'go-web' });
  await task.locator('.badge', { hasText: /^running$/ }).waitFor();
  await task.locator('td.num', { hasText: /^1$/ }).waitFor();
  await page.locator('h1 .badge', { hasText: /^running$/ }).waitFor();
  await shot('workshop-go-restarted');
  done('restarted: Restart Signaled, Restarting in 0s, running again with 1 restart');

  step = 'read stderr';
  await logs.getByRole('button', { name: 'stderr', exact: true }).click();
  // `go run` reports how the program it ran ended: the restart's SIGINT.
  await log.filter({ hasText: 'signal: interrupt' }).waitFor();
  await shot('workshop-go-stderr');
  done('stderr shows go run\'s "signal: interrupt" from the restart');
} catch (error) {
  console.error(`FAILED at step "${step}": ${error.message}`);
  if (problems.length) console.error(problems.join('\n'));
  try { await shot('workshop-failure'); } catch { /* the page may be gone */ }
  await browser.close();
  process.exit(1);
}
await browser.close();
