// Opens a `handoff backtest --report` page in headless Chromium and checks
// what a person reads there: the before/after table, the chart's bars, the
// per-label table and one row per changed run. Screenshot: backtest.png.
// Usage: node report.mjs REPORT_FILE OUT_DIR CHANGED_RUNS
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [file, outDir, changedText] = process.argv.slice(2);
if (!file || !outDir || changedText === undefined) {
  console.error("usage: node report.mjs REPORT_FILE OUT_DIR CHANGED_RUNS");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const changed = Number(changedText);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exitCode = 1; };
try {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  await page.goto(pathToFileURL(file).href);
  if (!(await page.title()).includes("Backtest of support-triage")) fail(`title: ${await page.title()}`);
  const summary = await page.locator("#summary").innerText();
  for (const part of ["acts alone", "review load", "accuracy vs verdicts", "reviewer hours", "before", "after"]) {
    if (!summary.includes(part)) fail(`the summary lacks "${part}"`);
  }
  if ((await page.locator("svg[aria-label='review load per label'] rect.after").count()) === 0) fail("the chart has no bars");
  if ((await page.locator("#labels tr").count()) < 2) fail("the per-label table is empty");
  const rows = await page.locator("#changed tr").count();
  const listed = rows === 0 ? 0 : rows - 1;
  if (listed !== changed) fail(`the page lists ${listed} changed runs, the backtest ${changed}`);
  await page.screenshot({ path: `${outDir}/backtest.png`, fullPage: true });
  console.log(`backtest report: ok (${changed} changed runs)`);
} finally {
  await browser.close();
}
