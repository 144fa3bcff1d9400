#!/usr/bin/env bash
# Browser check of the local pages: installs Debian's chromium and
# playwright-core when missing, starts `handoff up` on a scratch data dir,
# plays the samples leaving approvals pending, and checks the dashboard, a
# timeline, the outbox and an approval page in headless Chromium, approves
# one and checks the Outcomes section and `handoff stats`; then a reviewer's
# side of approvals (approval.mjs): edits, reject, 2-of-3, a second POST, an
# expired link, a tampered signature, prefetches, hostile input, and an
# e-mailed invoice's PDF drawn beside the fields a reviewer corrects. Last, a
# backtest's report page (report.mjs).
# Screenshots: artifacts/browser/*.png.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

if ! command -v chromium >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "browser check needs chromium (apt-get install chromium)" >&2
    exit 1
  fi
fi
if [[ ! -d $here/node_modules/playwright-core ]]; then
  (cd "$here" && npm install --no-audit --no-fund --no-package-lock --silent)
fi

cargo build --quiet -p handoff-local -p handoff-invoices
bin=${CARGO_TARGET_DIR:-target}/debug/handoff
invoices=${CARGO_TARGET_DIR:-target}/debug/handoff-invoices
data=$(mktemp -d)
# The seed workflows, plus quick-approval: support-triage with a 3 s approval
# that rejects on timeout, so a link expires while the check runs.
specs=$data/workflows
mkdir -p "$specs"
cp workflows/*.yaml "$specs/"
sed -e 's/^name: support-triage$/name: quick-approval/' \
  -e 's/timeout_seconds: 14400/timeout_seconds: 3/' \
  -e 's/on_timeout: escalate/on_timeout: reject/' \
  workflows/support-triage.yaml >"$specs/quick-approval.yaml"
# And audited-triage: support-triage whose rules never ask approval, with
# earned autonomy one approved verdict satisfies (a target no real spec
# would set) and every run acting alone audited.
sed -e 's/^name: support-triage$/name: audited-triage/' \
  -e '/^    approval: true$/d' \
  -e 's/^    review_below: 0.35$/    review_below: 0.35\n    autonomy: {target_error: 0.95, confidence: 0.5, min_samples: 1, audit_rate: 1.0}/' \
  workflows/support-triage.yaml >"$specs/audited-triage.yaml"
grep -q "audit_rate: 1.0" "$specs/audited-triage.yaml" || { echo "FAIL: audited-triage has no autonomy" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" up --port "$port" --data-dir "$data" --workflows "$specs" >"$data/up.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  [[ -f $data/up.json ]] && break
  sleep 0.1
done
login=
for _ in $(seq 100); do
  login=$(grep -o 'http://[^ ]*/login?code=[0-9a-f]*' "$data/up.log" || true)
  [[ -n $login ]] && break
  sleep 0.1
done
[[ -n $login ]] || { echo "FAIL: handoff up printed no login link" >&2; cat "$data/up.log" >&2; exit 1; }
token=$("$bin" token --operator --data-dir "$data")
"$bin" demo --data-dir "$data" --no-approve
node "$here/pages.mjs" "http://127.0.0.1:$port" "$root/artifacts/browser" "$login"
# The same figures on the command line, after the approval pages.mjs gave.
"$bin" stats --data-dir "$data" | tee "$data/stats.txt"
grep -q "reviewed  *[1-9]" "$data/stats.txt" || { echo "FAIL: handoff stats counts no reviewed run" >&2; exit 1; }
# The accuracy review, stored and then shown on the dashboard.
"$bin" review-accuracy --data-dir "$data" --workflows "$specs"
dashboard=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})).read().decode())' "http://127.0.0.1:$port/" "$token")
grep -q "kept / reviewed" <<<"$dashboard" || { echo "FAIL: the dashboard shows no stored accuracy review" >&2; exit 1; }
HANDOFF_TOKEN=$token HANDOFF_INVOICES=$invoices node "$here/approval.mjs" "http://127.0.0.1:$port" "$root/artifacts/browser" "$bin" "$data" "$specs"
# A backtest of a changed support-triage over the runs this check made
# (refunds go to a new desk, card problems wait for a person), and its
# report page.
python3 - "$specs/support-triage.yaml" "$data/candidate.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
card = "actions: [reply_to_customer, update_ticket, alert_cards_team]\n"
assert card in text and "route: billing-team" in text, "support-triage.yaml has the rules"
text = text.replace(card, card + "    approval: true\n", 1).replace("route: billing-team", "route: refunds-desk")
open(sys.argv[2], "w").write(text)
PY
"$bin" backtest --data-dir "$data" --workflows "$specs" --spec "$data/candidate.yaml" \
  --report "$data/backtest.html" --json >"$data/backtest.json"
changed=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["changed"]))' "$data/backtest.json")
[[ $changed -gt 0 ]] || { echo "FAIL: the backtest found no refund run to re-route" >&2; exit 1; }
node "$here/report.mjs" "$data/backtest.html" "$root/artifacts/browser" "$changed"
echo "screenshots in artifacts/browser/"
