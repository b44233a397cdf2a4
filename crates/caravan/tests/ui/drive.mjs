// Drives headless Chromium through the Caravan UI for tests/ui.rs:
//   node drive.mjs <agent address> <job id> <screenshot dir> <chromium path>
// Opens the job's page while its allocation starts, waits for it to turn running (the
// page updates itself: it is never reloaded), opens the allocation and reads the task's
// log, stops the job through the confirm button and waits for it to be dead, then finds
// the job and its allocation through the top bar's search box. Any page
// error, console error or request to another origin fails the run. Prints one line per
// step; exits non-zero on the first failure, after a screenshot of the page as it was.

import { openSession, parseArgs } from './session.mjs';

const { base, job, shots, executablePath } = parseArgs('drive.mjs');
const { browser, page, problems, shot, done } = await openSession({ base, shots, executablePath, height: 900 });
let step = 'start';

try {
  step = 'open the job page';
  await page.goto(`${base}/ui/jobs/${encodeURIComponent(job)}`);
  // Marks this document: if anything reloaded the page, the mark would be gone.
  await page.evaluate(() => { window.caravanTestMark = 'no reload'; });
  const title = await page.title();
  if (!title.includes('Caravan')) throw new Error(`title ${JSON.stringify(title)} does not say Caravan`);
  await page.locator('h1', { hasText: job }).waitFor();
  done(`job page "${title}"`);

  step = 'see the allocation turn running';
  const allocations = page.locator('section.panel', { has: page.locator('h2', { hasText: /^Allocations$/ }) });
  const runningRow = allocations.locator('tbody tr', { has: page.locator('.badge', { hasText: /^running$/ }) });
  await runningRow.first().waitFor();
  if ((await page.evaluate(() => window.caravanTestMark)) !== 'no reload') throw new Error('the page was reloaded');
  await page.locator('h1 .badge', { hasText: /^running$/ }).waitFor();
  await shot('job-running');
  done('allocation running, seen without reloading the page');

  step = 'open the allocation and read its log';
  await runningRow.first().locator('a[href^="/ui/allocations/"]').click();
  await page.waitForURL(/\/ui\/allocations\/[0-9a-f-]{36}$/);
  await page.locator('h1 .badge', { hasText: /^running$/ }).waitFor();
  const log = page.locator('pre.log');
  await log.filter({ hasText: 'hello from caravan' }).waitFor();
  await shot('allocation-log');
  done('log line "hello from caravan" read from the streaming logs endpoint');

  step = 'go back to the job with the keyboard';
  const jobLink = page.locator('nav.crumbs a', { hasText: job });
  await jobLink.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`/ui/jobs/${job}$`));
  await page.locator('h1 .badge', { hasText: /^running$/ }).waitFor();
  done('job page again through the breadcrumb');

  step = 'stop the job';
  await page.getByRole('button', { name: 'Stop job' }).click();
  const confirm = page.getByRole('button', { name: 'Yes, stop job' });
  await confirm.waitFor();
  await shot('job-stop-confirm');
  await confirm.click();
  await page.locator('h1 .badge', { hasText: /^dead$/ }).waitFor();
  await page.getByRole('button', { name: 'Start job' }).waitFor();
  if ((await page.evaluate(() => window.caravanTestMark)) !== 'no reload') throw new Error('the page was reloaded');
  await shot('job-dead');
  done('job dead after stop');

  step = 'the jobs list shows it dead';
  await page.locator('.topbar nav a', { hasText: 'Jobs' }).click();
  await page.locator('tbody tr', { hasText: job }).locator('.badge', { hasText: /^dead$/ }).waitFor();
  await shot('jobs-list');
  done('jobs list');

  step = 'clients list';
  await page.locator('.topbar nav a', { hasText: 'Clients' }).click();
  await page.locator('tbody tr .badge', { hasText: /^ready$/ }).first().waitFor();
  await shot('clients');
  done('clients list');

  step = 'find the job with the search box and follow it';
  await page.keyboard.press('/');
  const search = page.locator('#global-search');
  if (!(await search.evaluate((input) => input === document.activeElement))) throw new Error('"/" did not focus the search box');
  await search.fill(job.slice(1, -1).toUpperCase());
  const results = page.locator('#search-results');
  const jobsGroup = results.locator('section.search-group', { has: page.locator('h2', { hasText: /^Jobs/ }) });
  await jobsGroup.locator('a', { hasText: new RegExp(`^${job}$`) }).waitFor();
  await results.locator('section.search-group', { has: page.locator('h2', { hasText: /^Allocations/ }) })
    .locator('a', { hasText: `${job}.` }).first().waitFor();
  await shot('search-results');
  await jobsGroup.locator('a', { hasText: new RegExp(`^${job}$`) }).click();
  await page.waitForURL(new RegExp(`/ui/jobs/${job}$`));
  await page.locator('h1', { hasText: job }).waitFor();
  if (!(await results.isHidden())) throw new Error('the results stayed open after following one');
  done('the job found by part of its name, in capitals, and its page opened from the result');

  step = 'follow an allocation from the search box with the keyboard';
  await search.fill(`${job}.`);
  const allocLink = results.locator('a[href^="/ui/allocations/"]').first();
  await allocLink.waitFor();
  await search.press('ArrowDown');
  if (!(await allocLink.evaluate((a) => a === document.activeElement))) {
    // The first result is the first of its group; walk down to the allocation.
    for (let i = 0; i < 10 && !(await allocLink.evaluate((a) => a === document.activeElement)); i += 1) {
      await page.keyboard.press('ArrowDown');
    }
  }
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/ui\/allocations\/[0-9a-f-]{36}$/);
  await page.locator('h1 .badge').first().waitFor();
  done('an allocation found by its name and opened with Enter');
} catch (error) {
  console.error(`FAILED at step "${step}": ${error.message}`);
  if (problems.length) console.error(problems.join('\n'));
  try { await shot('failure'); } catch { /* the page may be gone */ }
  await browser.close();
  process.exit(1);
}
await browser.close();
