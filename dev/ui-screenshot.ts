/**
 * Screenshots of an org workflow in the Temporal Web UI, taken with headless Chromium, to check (and show) what an
 * operator sees there. A manual tool: run the demo (`npm start`), then
 *
 *   npx tsx dev/ui-screenshot.ts [--url URL] [--out PATH]
 *
 * The workflow page opens on its event history, which shows neither the current details nor the search
 * attributes; so the script clicks the "User Metadata" tab (summary and current details: cursor, lag, counters)
 * and saves it to PATH, then the "Search Attributes" tab (org ID and phase) and saves it beside it, as
 * `<PATH without .png>-search-attributes.png`. Needs Debian's `chromium` at /usr/bin/chromium.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { z } from 'zod';
import { workflowIdForOrg } from '../shared/org-workflow';
import { STANDIN_DEFAULTS } from './standins/main';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const RENDER_TIMEOUT_MS = 30_000;

const DEFAULT_URL = `http://localhost:8233/namespaces/default/workflows/${workflowIdForOrg(STANDIN_DEFAULTS.orgId)}`;
const DEFAULT_OUT = path.join(__dirname, '..', 'test-output', 'ui-workflow.png');

const argsSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: '--url must be an http(s) URL of a workflow page' }).default(DEFAULT_URL),
  out: z
    .string()
    .regex(/\.png$/i, { error: '--out must be a .png path' })
    .default(DEFAULT_OUT),
});

/**
 * One tab of the workflow page: where to click, and text that shows it has rendered its data. The UI renders
 * markdown (summary, current details) in iframes of its own, so the text is looked for in every frame.
 */
interface WorkflowTab {
  name: string;
  renderedWhen: RegExp;
}

const DETAILS_TAB: WorkflowTab = { name: 'User Metadata', renderedWhen: /Watermark/ };
const SEARCH_ATTRIBUTES_TAB: WorkflowTab = { name: 'Search Attributes', renderedWhen: /AtlassianAuditPhase/ };

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, out: { type: 'string' } }, strict: true });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) throw new Error(parsed.error.issues[0]!.message);
  const { url } = parsed.data;
  const detailsPng = path.resolve(parsed.data.out);
  const searchAttributesPng = detailsPng.replace(/\.png$/i, '-search-attributes.png');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install it with apt-get install -y chromium`);
  mkdirSync(path.dirname(detailsPng), { recursive: true });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    try {
      await page.goto(url, { waitUntil: 'domcontentloaded' });
    } catch {
      throw new Error(`cannot open ${url}: is the demo (npm start) or another Temporal dev server running?`);
    }
    await showTab(page, DETAILS_TAB);
    await page.screenshot({ path: detailsPng });
    await showTab(page, SEARCH_ATTRIBUTES_TAB);
    await page.screenshot({ path: searchAttributesPng });
  } finally {
    await browser.close();
  }
  console.log(`${path.relative(process.cwd(), detailsPng)}: current details`);
  console.log(`${path.relative(process.cwd(), searchAttributesPng)}: search attributes`);
}

async function showTab(page: Page, tab: WorkflowTab): Promise<void> {
  try {
    // The tabs appear once the UI has loaded the workflow; a missing workflow never shows them.
    await page.getByRole('tab', { name: tab.name }).click({ timeout: RENDER_TIMEOUT_MS });
    await waitForText(page, tab.renderedWhen, Date.now() + RENDER_TIMEOUT_MS);
  } catch {
    const within = `within ${RENDER_TIMEOUT_MS / 1000} s`;
    throw new Error(`the workflow page at ${page.url()} did not show its "${tab.name}" tab ${within}`);
  }
}

async function waitForText(page: Page, text: RegExp, deadline: number): Promise<void> {
  for (;;) {
    for (const frame of page.frames()) {
      const body = await frame.locator('body').innerText({ timeout: 1_000 }).catch(() => '');
      if (text.test(body)) return;
    }
    if (Date.now() > deadline) throw new Error(`no ${text} on the page`);
    await page.waitForTimeout(250);
  }
}

main().catch((error: unknown) => {
  console.error(`ui-screenshot: ${(error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ')}`);
  process.exit(1);
});
