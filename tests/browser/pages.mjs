// Opens the local dashboard, a run's timeline and the outbox in headless
// Chromium and checks what a reviewer needs to see: a pending approval, a
// timeline with stages, the reviewer links; then approves one and checks the
// Outcomes figures and charts. First, the sign-in: nothing shows without a
// session, the one-time login link `handoff up` printed opens the dashboard
// once. Screenshots go to OUT_DIR.
// Usage: node pages.mjs BASE_URL OUT_DIR LOGIN_LINK
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, outDir, loginLink] = process.argv.slice(2);
if (!base || !outDir || !loginLink) {
  console.error("usage: node pages.mjs BASE_URL OUT_DIR LOGIN_LINK");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exitCode = 1; };
try {
  // Reading needs no JavaScript.
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();

  // Without a session: the sign-in form, no run data, and JSON routes say 401.
  await page.goto(`${base}/`);
  if (!page.url().endsWith("/login")) fail(`without a session / went to ${page.url()}`);
  if (!(await page.title()).includes("Sign in")) fail("the sign-in page's title");
  if ((await page.locator("form input[name=token]").count()) !== 1) fail("the sign-in form has no token field");
  if ((await page.locator("main").innerText()).includes("support-triage")) fail("run data before sign-in");
  await page.screenshot({ path: `${outDir}/sign-in.png`, fullPage: true });
  for (const path of ["/runs", "/outbox"]) {
    const res = await fetch(`${base}${path}`, { headers: { accept: "application/json" } });
    if (res.status !== 401) fail(`GET ${path} without a session: ${res.status}`);
  }

  // The login link signs in once.
  await page.goto(loginLink);
  if (!(await page.title()).includes("Dashboard")) fail("the login link did not open the dashboard");
  const other = await browser.newContext({ javaScriptEnabled: false });
  const second = await other.newPage();
  const again = await second.goto(loginLink);
  if (again.status() !== 401) fail(`the login link worked twice: ${again.status()}`);
  await other.close();
  console.log("sign-in: ok");

  await page.goto(`${base}/`);
  if (!(await page.title()).includes("Dashboard")) fail("dashboard title");
  const pending = page.locator("#pending + table tr td a");
  if ((await pending.count()) === 0) fail("the dashboard lists no pending approval");
  if ((await page.locator("svg[aria-label='runs per minute'] rect").count()) === 0) fail("no runs-per-minute chart");
  await page.screenshot({ path: `${outDir}/dashboard.png`, fullPage: true });
  console.log("dashboard: ok");

  await pending.first().click();
  await page.waitForLoadState();
  const rows = await page.locator("#timeline tr").count();
  if (rows < 5) fail(`the timeline has ${rows - 1} rows`);
  const text = await page.locator("main").innerText();
  for (const part of ["reason.finished", "decide.finished", "approval.requested", "AI output", "Decision"]) {
    if (!text.includes(part)) fail(`the timeline page lacks "${part}"`);
  }
  await page.screenshot({ path: `${outDir}/timeline.png`, fullPage: true });
  console.log("timeline: ok");

  await page.goto(`${base}/outbox`);
  const links = page.locator("#outbox a.review");
  if ((await links.count()) === 0) fail("the outbox lists no reviewer link");
  await page.screenshot({ path: `${outDir}/outbox.png`, fullPage: true });
  console.log("outbox: ok");

  // The reviewer's page behind a link shows the decision form.
  await links.first().click();
  await page.waitForLoadState();
  if ((await page.locator("form button").count()) === 0) fail("the approval page has no decision buttons");
  await page.screenshot({ path: `${outDir}/approval.png`, fullPage: true });
  console.log("approval page: ok");

  // Approving there finishes the run: the dashboard's Outcomes section then
  // counts a reviewed run and charts the reviewer's verdict on the AI label.
  await page.locator("form button", { hasText: /approve/i }).first().click();
  await page.waitForLoadState();
  let charted = 0;
  for (let i = 0; i < 50 && charted === 0; i++) {
    await page.goto(`${base}/`);
    charted = await page.locator("svg[aria-label='accuracy by AI label'] rect").count();
    if (charted === 0) await new Promise((r) => setTimeout(r, 200));
  }
  if (charted === 0) fail("no accuracy-by-label chart after an approval");
  if ((await page.locator("svg[aria-label='run outcomes'] rect").count()) === 0) fail("no outcome bar");
  const outcomes = await page.locator("main").innerText();
  for (const part of ["Outcomes (last 24 hours)", "approval latency p50", "override rate", "mean AI confidence"]) {
    if (!outcomes.includes(part)) fail(`the dashboard lacks "${part}"`);
  }
  await page.locator("#outcomes").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${outDir}/outcomes.png`, fullPage: true });
  console.log("outcomes: ok");
} finally {
  await browser.close();
}
