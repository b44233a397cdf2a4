// What every browser script here starts with: its arguments, a headless Chromium page
// that records page errors, console errors and requests outside the agent, and the
// screenshot and step helpers.

import { chromium } from 'playwright-core';

const STEP_TIMEOUT = 30000;

/** `node <script> <agent address> <job id> <screenshot dir> <chromium path>`. */
export function parseArgs(script) {
  const [base, job, shots, executablePath] = process.argv.slice(2);
  if (!base || !job || !shots || !executablePath) {
    console.error(`usage: node ${script} <address> <job> <screenshot dir> <chromium>`);
    process.exit(2);
  }
  return { base, job, shots, executablePath };
}

/** Opens the browser and a page of `height` pixels; `problems` collects what fails a run. */
export async function openSession({ base, shots, executablePath, height }) {
  const problems = [];
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // Root in a container has no user namespaces for Chromium's sandbox. Playwright talks
    // to the browser over a pipe: no debugging port is opened.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Resource usage is optional: an agent that does not measure it answers 404, which
    // the page handles by hiding the panel, but Chromium still logs the failed request.
    if (message.type() === 'error' && !message.location().url.includes('/stats')) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith('data:')) problems.push(`request outside the agent: ${url}`);
  });
  async function shot(name) {
    await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
    console.log(`screenshot ${shots}/${name}.png`);
  }
  function done(what) {
    if (problems.length) throw new Error(problems.join('\n'));
    console.log(`ok ${what}`);
  }
  return { browser, page, problems, shot, done };
}
