// A reviewer's side of approvals in headless Chromium, against a running
// `handoff up`: edit the draft and approve (the delivered action carries the
// edit), reject with a reason, 2-of-3, a second POST of the same link, an
// expired link, a tampered signature, prefetching GETs and a HEAD that decide
// nothing, a ticket carrying script that stays text, a blind audit, and an
// e-mailed invoice whose PDF is drawn beside the fields a reviewer corrects. Screenshots of each
// page go to OUT_DIR.
// Usage: node approval.mjs BASE_URL OUT_DIR HANDOFF_BIN DATA_DIR SPECS_DIR
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, outDir, bin, dataDir, specsDir] = process.argv.slice(2);
if (!specsDir) {
  console.error("usage: node approval.mjs BASE_URL OUT_DIR HANDOFF_BIN DATA_DIR SPECS_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), "handoff-approval-"));

let failures = 0;
const check = (ok, msg) => {
  if (!ok) {
    console.error(`FAIL: ${msg}`);
    failures += 1;
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ the stack

/// Sends a payload through `handoff run` (signed as the workflow's sender)
/// and returns the run id once the run waits for approval or ended.
function startRun(workflow, payload) {
  const file = join(scratch, `${workflow}-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(payload));
  return runIdOf(execFileSync(bin, [
    "run", file, "--workflow", workflow, "--json", "--data-dir", dataDir, "--workflows", specsDir,
  ], { encoding: "utf8" }));
}

/// Delivers a raw e-mail through `handoff mail`, as startRun.
function startMail(workflow, eml) {
  return runIdOf(execFileSync(bin, [
    "mail", workflow, eml, "--json", "--data-dir", dataDir, "--workflows", specsDir,
  ], { encoding: "utf8" }));
}

function runIdOf(out) {
  const run = JSON.parse(out).run;
  if (!run || !run.id) throw new Error(`no run in: ${out}`);
  return run.id;
}

// Writes generated invoices (`handoff-invoices eml`).
const invoicesBin = process.env.HANDOFF_INVOICES;
if (!invoicesBin) {
  console.error("HANDOFF_INVOICES must name the handoff-invoices binary");
  process.exit(2);
}

// An operator token (`handoff token --operator`) for the read routes.
const token = process.env.HANDOFF_TOKEN;
if (!token) {
  console.error("HANDOFF_TOKEN must hold an operator token");
  process.exit(2);
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: "application/json", authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

const runOf = async (id) => (await getJson(`${base}/runs/${id}`)).body;
const statusOf = async (id) => (await runOf(id)).run.status;

async function waitStatus(id, wanted, ms = 30000) {
  const start = Date.now();
  let status;
  while (Date.now() - start < ms) {
    status = await statusOf(id);
    if (wanted.includes(status)) return status;
    await sleep(50);
  }
  return status;
}

async function outbox(runId) {
  const { body } = await getJson(`${base}/outbox`);
  return body.entries.filter((e) => e.run_id === runId);
}

/// `reviewer → link` for a run's newest approval request.
async function linksOf(runId) {
  const links = new Map();
  for (const e of (await outbox(runId)).filter((e) => e.kind === "notification")) {
    if (!links.has(e.target)) links.set(e.target, e.link);
  }
  return links;
}

const auditKinds = (run) => run.audit.map((e) => e.kind);

function samplePayload(workflow) {
  const event = JSON.parse(readFileSync(`events/webhook-${workflow}.json`, "utf8"));
  return JSON.parse(event.body);
}

// ------------------------------------------------------------ the browser

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

/// A page with JavaScript on (so a script that slipped through would run)
/// that records every dialog it opens.
async function reviewerPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
  const page = await context.newPage();
  page.dialogs = [];
  page.on("dialog", async (d) => {
    page.dialogs.push(d.message());
    await d.dismiss();
  });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: `${outDir}/${name}.png`, fullPage: true });
}

/// Clicks a decision button and returns the answer page's response.
async function press(page, verdict) {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click(`button[value=${verdict}]`),
  ]);
  return response;
}

// ------------------------------------------------------------ scenarios

async function editAndApprove() {
  const runId = startRun("support-triage", samplePayload("support-triage"));
  check((await statusOf(runId)) === "AWAITING_APPROVAL", "support-triage waits for approval");
  const [link] = (await linksOf(runId)).values();
  const page = await reviewerPage();
  const shown = await page.goto(link);
  check(shown.status() === 200, `the approval page answers 200, not ${shown.status()}`);
  const headers = shown.headers();
  const csp = headers["content-security-policy"] || "";
  check(csp.includes("default-src 'none'") && !csp.includes("script-src"), `the CSP allows no script: ${csp}`);
  check(headers["referrer-policy"] === "no-referrer", "the page sends Referrer-Policy: no-referrer");
  const text = await page.locator("main").innerText();
  for (const part of ["AI output", "Confidence", "Rationale", "Proposed actions", "reply_to_customer"]) {
    check(text.includes(part), `the approval page shows "${part}"`);
  }
  const marker = `Edited in the browser ${Date.now()}`;
  await page.fill("#draft", `Hi Dana, ${marker}. We refund the duplicate charge today.`);
  await page.fill("#reason", "draft reworded");
  await shot(page, "approval-edit");
  const answer = await press(page, "approve");
  check(answer.status() === 200, `approving answers 200, not ${answer.status()}`);
  check((await page.locator("h1").innerText()) === "Approved", "the answer page says Approved");
  await shot(page, "approval-approved");

  check((await waitStatus(runId, ["COMPLETED", "FAILED"])) === "COMPLETED", "the approved run completes");
  const reply = (await outbox(runId)).find((e) => e.kind === "action" && e.subject.startsWith("reply_to_customer"));
  check(reply && reply.body.includes(marker), `the delivered reply carries the edit: ${reply && reply.body}`);
  const decided = (await runOf(runId)).audit.find((e) => e.kind === "approval.decided");
  check(decided && decided.detail.edits && decided.detail.edits.draft.includes(marker), "the audit records the edit");
  await page.context().close();
}

async function rejectWithReason() {
  // support-triage needs one of two: it is rejected once both reject.
  const runId = startRun("support-triage", samplePayload("support-triage"));
  const [first, second] = (await linksOf(runId)).values();
  const page = await reviewerPage();
  await page.goto(first);
  // A second tab on the same link, as a reviewer who opened it twice.
  const again = await page.context().newPage();
  await again.goto(first);

  const reasons = ["The charge was not duplicated; the second one is a pre-authorisation.", "Agreed, no refund."];
  await page.fill("#reason", reasons[0]);
  const recorded = await press(page, "reject");
  check(recorded.status() === 202, `one rejection of two is recorded (202), not ${recorded.status()}`);
  check((await page.locator("main").innerText()).includes("Your rejection is recorded"), "the page says the rejection is recorded");
  check((await statusOf(runId)) === "AWAITING_APPROVAL", "the other reviewer can still approve");

  await page.goto(second);
  await page.fill("#reason", reasons[1]);
  const answer = await press(page, "reject");
  check(answer.status() === 200, `the deciding rejection answers 200, not ${answer.status()}`);
  check((await page.locator("h1").innerText()) === "Rejected", "the answer page says Rejected");
  await shot(page, "approval-rejected");
  check((await waitStatus(runId, ["REJECTED", "COMPLETED", "FAILED"])) === "REJECTED", "the rejected run ends REJECTED");
  const run = await runOf(runId);
  const decided = run.audit.find((e) => e.kind === "approval.decided");
  check(decided && decided.detail.reason === reasons.join("; "), `the audit keeps the reasons: ${decided && decided.detail.reason}`);
  const votes = run.audit.filter((e) => e.kind === "approval.vote").map((e) => e.detail.reason);
  check(reasons.every((r) => votes.includes(r)), "each vote is audited with its reason");
  check(!auditKinds(run).includes("action.performed"), "a rejected run acts on nothing");
  check(!(await outbox(runId)).some((e) => e.kind === "action"), "no action in the outbox");

  // The same link POSTed a second time, from the other tab and as JSON.
  const twice = await press(again, "approve");
  check(twice.status() === 409, `a second POST answers 409, not ${twice.status()}`);
  const twiceText = await again.locator("main").innerText();
  check(twiceText.includes("Already decided"), "the second POST says already decided");
  check(twiceText.includes("You answered") && twiceText.includes("rejected by"), `the page says who decided: ${twiceText}`);
  await shot(again, "approval-already-decided");
  const res = await fetch(first, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    body: "verdict=approve",
  });
  const body = await res.json();
  check(res.status === 409 && body.status === "already_decided", `JSON second POST: ${res.status} ${JSON.stringify(body)}`);
  check(body.votes.length === 2 && body.decided_at, "the JSON answer says who decided and when");
  check((await statusOf(runId)) === "REJECTED", "a second POST changes nothing");
  await page.context().close();
}

async function twoOfThree() {
  const payload = samplePayload("invoice-approval");
  // An unmatched purchase order needs two of the three finance approvers.
  payload.subject = "Invoice INV-2026-0117 for PO-9999";
  payload.body = "Please find invoice INV-2026-0117 for purchase order PO-9999. Total due: EUR 2,400.00 by 2026-03-01.";
  const runId = startRun("invoice-approval", payload);
  check((await statusOf(runId)) === "AWAITING_APPROVAL", "the unmatched invoice waits for approval");
  const links = [...(await linksOf(runId)).values()];
  check(links.length === 3, `three reviewer links, not ${links.length}`);
  check(new Set(links.map((l) => new URL(l).searchParams.get("r"))).size === 3, "each link names its reviewer");

  const page = await reviewerPage();
  await page.goto(links[0]);
  check((await page.locator("main").innerText()).includes("0 of 2 needed"), "the page shows 0 of 2");
  const first = await press(page, "approve");
  check(first.status() === 202, `the first approval is recorded (202), not ${first.status()}`);
  check((await page.locator("main").innerText()).includes("waiting for 1 more"), "the page says one more is needed");
  await shot(page, "approval-2of3-recorded");
  await sleep(300);
  check((await statusOf(runId)) === "AWAITING_APPROVAL", "one of two approvals does not resume the run");

  await page.goto(links[1]);
  check((await page.locator("main").innerText()).includes("1 of 2 needed"), "the second reviewer sees 1 of 2");
  const second = await press(page, "approve");
  check(second.status() === 200, `the second approval decides (200), not ${second.status()}`);
  check((await waitStatus(runId, ["COMPLETED", "FAILED"])) === "COMPLETED", "two of three approvals complete the run");
  check((await outbox(runId)).some((e) => e.kind === "action" && e.subject.startsWith("schedule_payment")), "the payment is scheduled");

  await page.goto(links[2]);
  const third = await page.locator("main").innerText();
  check(third.includes("already approved by"), "the third reviewer sees who approved");
  check((await page.locator("form button").count()) === 0, "the third reviewer gets no buttons");
  await shot(page, "approval-2of3-third");
  const decided = (await runOf(runId)).audit.find((e) => e.kind === "approval.decided");
  check(decided && decided.detail.reviewers.length === 2, "the audit names both approvers");
  await page.context().close();
}

async function emailedInvoiceShowsItsDocument() {
  // Invoice 1 as a text PDF, mailed without the relay's Authentication-Results:
  // an unauthenticated sender, so two finance approvers decide.
  const eml = join(scratch, "invoice.eml");
  execFileSync(invoicesBin, ["eml", "--out", eml, "--seed", "1", "--layout", "classic"]);
  const runId = startMail("invoice-approval", eml);
  check((await statusOf(runId)) === "AWAITING_APPROVAL", "the mailed invoice waits for approval");
  const links = [...(await linksOf(runId)).values()];
  const page = await reviewerPage();
  page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(links[0]);
  const pageImage = page.locator(".pages img").first();
  await pageImage.waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll(".pages img")].every((i) => i.complete));
  const drawn = await pageImage.evaluate((i) => i.naturalWidth);
  check(drawn > 500, `the PDF page is drawn as an image (${drawn} px wide)`);
  const text = await page.locator("main").innerText();
  check(/invoice-INV-[\d-]+\.pdf · application\/pdf · 1 page · read by pdf-text/.test(text), `the page names the document, its pages and its reader: ${text}`);
  const [imageBox, fieldsBox] = [await pageImage.boundingBox(), await page.locator(".fields").boundingBox()];
  check(fieldsBox.x >= imageBox.x + imageBox.width - 1, "the extracted fields sit beside the page");
  const po = await page.inputValue('input[name="field.invoice.po_number"]');
  check(/^PO-\d+$/.test(po), `the PO the AI read is in its field: ${po}`);

  const src = new URL(await pageImage.getAttribute("src"), links[0]);
  src.searchParams.set("sig", "forged");
  const forged = await fetch(src);
  check(forged.status === 403, `a page image on a forged link answers 403, not ${forged.status}`);

  await page.fill('input[name="field.invoice.invoice_id"]', "INV-CORRECTED-1");
  await shot(page, "approval-invoice-document");
  const first = await press(page, "approve");
  check(first.status() === 202, `the first approval with a correction is recorded (202), not ${first.status()}`);
  await page.goto(links[1]);
  const second = await press(page, "approve");
  check(second.status() === 200, `the second approval decides (200), not ${second.status()}`);
  check((await waitStatus(runId, ["COMPLETED", "FAILED"])) === "COMPLETED", "the approved invoice completes");
  const payment = (await outbox(runId)).find((e) => e.kind === "action" && e.subject.startsWith("schedule_payment"));
  check(payment && payment.body.includes("INV-CORRECTED-1"), `the payment carries the corrected number: ${payment && payment.body}`);
  await page.context().close();
}

async function expiredLink() {
  const runId = startRun("quick-approval", samplePayload("support-triage"));
  const [link] = (await linksOf(runId)).values();
  const exp = Number(new URL(link).searchParams.get("exp"));
  await sleep(Math.max(0, exp * 1000 - Date.now()) + 1200);
  const page = await reviewerPage();
  const shown = await page.goto(link);
  check(shown.status() === 410, `an expired link answers 410, not ${shown.status()}`);
  check((await page.locator("h1").innerText()).includes("expired"), "the page says the link expired");
  check((await page.locator("form").count()) === 0, "an expired link shows no form");
  await shot(page, "approval-expired");
  const res = await fetch(link, { method: "POST", headers: { accept: "application/json" }, body: "verdict=approve" });
  check(res.status === 410 && (await res.json()).status === "expired", "POSTing an expired link answers expired");
  check((await waitStatus(runId, ["REJECTED", "COMPLETED", "FAILED"])) === "REJECTED", "the timed-out run is rejected per policy");
  check(auditKinds(await runOf(runId)).includes("approval.timed_out"), "the timeout is audited");
  await page.context().close();
}

async function tamperedAndPrefetched() {
  const runId = startRun("support-triage", samplePayload("support-triage"));
  const links = [...(await linksOf(runId)).values()];
  const link = links[0];

  // A changed signature, and one reviewer's signature under another's name.
  const url = new URL(link);
  const sig = url.searchParams.get("sig");
  url.searchParams.set("sig", (sig[0] === "A" ? "B" : "A") + sig.slice(1));
  const page = await reviewerPage();
  const forged = await page.goto(url.toString());
  check(forged.status() === 403, `a tampered signature answers 403, not ${forged.status()}`);
  check((await page.locator("form").count()) === 0, "a tampered link shows no form");
  await shot(page, "approval-tampered");
  const other = new URL(links[1]);
  const swapped = new URL(link);
  swapped.searchParams.set("r", other.searchParams.get("r"));
  check((await fetch(swapped)).status === 403, "a signature for one reviewer does not open another's link");
  const post = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "verdict=approve",
  });
  check(post.status === 403, `a tampered POST answers 403, not ${post.status}`);

  // Mail scanners and unfurlers: three GETs and a HEAD.
  for (const agent of ["Mozilla/5.0 (compatible; SafeLinks)", "Slackbot-LinkExpanding 1.0", "Mimecast"]) {
    const res = await fetch(link, { headers: { "user-agent": agent } });
    check(res.status === 200, `a prefetch GET answers 200, not ${res.status}`);
  }
  const head = await fetch(link, { method: "HEAD" });
  check(head.status === 200 && (await head.text()) === "", "HEAD answers 200 with no body");
  await sleep(300);
  check((await statusOf(runId)) === "AWAITING_APPROVAL", "the prefetches decided nothing");
  const kinds = auditKinds(await runOf(runId));
  check(!kinds.includes("approval.vote") && !kinds.includes("approval.decided"), `no vote after prefetch: ${kinds}`);
  const peek = await getJson(link);
  check(peek.body.approval_status === "pending" && peek.body.your_vote === undefined, "the approval is still pending");

  await page.goto(link);
  const answer = await press(page, "approve");
  check(answer.status() === 200, `the human's click after prefetch answers 200, not ${answer.status()}`);
  check((await waitStatus(runId, ["COMPLETED", "FAILED"])) === "COMPLETED", "the run completes after the click");
  await page.context().close();
}

async function scriptInTicketStaysText() {
  const hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>";
  const payload = samplePayload("support-triage");
  payload.ticket.subject = `Refund ${hostile}`;
  payload.ticket.description = `${hostile} I was charged twice for order ORD-55120, please refund the duplicate payment.`;
  const runId = startRun("support-triage", payload);
  check((await statusOf(runId)) === "AWAITING_APPROVAL", "the hostile ticket waits for approval");
  const [link] = (await linksOf(runId)).values();
  const page = await reviewerPage();
  await page.goto(link);
  await page.waitForLoadState("load");
  await sleep(500);
  const input = await page.locator("main pre").first().innerText();
  check(input.includes(hostile), `the ticket text is shown as text: ${input}`);
  check((await page.locator("main img").count()) === 0, "no <img> from the ticket reached the DOM");
  check((await page.locator("main script").count()) === 0, "no <script> from the ticket reached the DOM");
  await shot(page, "approval-hostile-ticket");
  // The console needs a session: sign in with the token through the form.
  await page.goto(`${base}/login`);
  await page.fill("input[name=token]", token);
  await page.click("form button");
  await page.waitForLoadState("load");
  check((await page.title()).includes("Dashboard"), `signing in with a token opened ${page.url()}`);
  for (const path of ["/outbox", `/timeline/${runId}`, "/"]) {
    await page.goto(`${base}${path}`);
    await sleep(200);
    check((await page.locator("main img").count()) === 0, `no <img> from the ticket on ${path}`);
  }
  check(page.dialogs.length === 0, `dialogs opened: ${page.dialogs}`);
  await page.context().close();
}


/// audited-triage (run.sh) proves a label on a single approved verdict and
/// audits every run that then acts alone: the auditor's page shows the
/// message and the labels, never the AI's label or confidence, and the
/// label given counts in the next accuracy review.
async function blindAudit() {
  const unique = () => {
    const payload = samplePayload("support-triage");
    payload.ticket.id = `audit-${Date.now()}-${Math.random().toString(16).slice(2)}`;
    return payload;
  };
  const review = () => JSON.parse(execFileSync(bin, [
    "review-accuracy", "--workflow", "audited-triage", "--workflows", specsDir, "--data-dir", dataDir, "--json",
  ], { encoding: "utf8" }))[0];

  const first = startRun("audited-triage", unique());
  check((await statusOf(first)) === "AWAITING_APPROVAL", "without evidence the label waits for a person");
  const [approvalLink] = (await linksOf(first)).values();
  const approved = await fetch(approvalLink, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    body: "verdict=approve",
  });
  check(approved.status === 200, `approving the first run: ${approved.status}`);
  await waitStatus(first, ["COMPLETED"]);
  const label = (await runOf(first)).run.summary.label;
  const promoted = review().autonomy[label];
  check(promoted && promoted.status === "auto", `one approved verdict promotes ${label}: ${JSON.stringify(promoted)}`);

  const second = startRun("audited-triage", unique());
  check((await waitStatus(second, ["COMPLETED"])) === "COMPLETED", "the proven label acts alone");
  const kinds = auditKinds(await runOf(second));
  check(kinds.includes("audit.sampled") && kinds.includes("audit.requested"), `the run is sampled and its audit requested: ${kinds}`);
  check(!kinds.includes("approval.requested"), "the audit asks no approval");
  const sent = (await outbox(second)).find((e) => e.kind === "notification" && e.link && e.link.includes("/audits/"));
  check(sent, "the auditor's link is in the outbox");
  if (!sent) return;
  check(!JSON.stringify(sent).includes(label), "the auditor's message does not name the AI's label");

  const page = await reviewerPage();
  await page.goto(sent.link);
  check((await page.title()).includes("Blind audit"), `the audit page's title: ${await page.title()}`);
  const text = await page.locator("main").innerText();
  check(text.includes("charged twice"), "the page shows the message");
  for (const hidden of ["onfidence", "%", "embedded", "billing-team", "Rationale"]) {
    check(!text.includes(hidden), `the audit page shows "${hidden}"`);
  }
  const options = page.locator("input[name=label]");
  check((await options.count()) > 2, "every label is offered");
  check((await page.locator("input[name=label]:checked").count()) === 0, "no label is chosen for the auditor");
  await shot(page, "audit");
  const other = (await options.evaluateAll((inputs) => inputs.map((i) => i.value))).find((v) => v !== label);
  await page.check(`input[name=label][value=${other}]`);
  const [answer] = await Promise.all([page.waitForNavigation(), page.click("form button")]);
  check(answer.status() === 200, `recording the audit label: ${answer.status()}`);
  check((await page.locator("main").innerText()).includes("recorded"), "the page confirms the label");
  await shot(page, "audit-recorded");
  await page.context().close();

  const after = review().autonomy[label];
  check(after.samples === 2 && after.errors === 1, `the blind label counts in the bound: ${JSON.stringify(after)}`);
}

try {
  for (const scenario of [editAndApprove, rejectWithReason, twoOfThree, emailedInvoiceShowsItsDocument, tamperedAndPrefetched, scriptInTicketStaysText, blindAudit, expiredLink]) {
    const before = failures;
    await scenario();
    if (failures > before) console.error(`${scenario.name}: ${failures - before} check(s) failed`);
    else console.log(`${scenario.name}: ok`);
  }
} catch (e) {
  console.error(`FAIL: ${e.stack || e}`);
  failures += 1;
} finally {
  await browser.close();
  rmSync(scratch, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("approval pages: all checks passed");
