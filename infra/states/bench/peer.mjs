// Runs the shipped workflow on aws-local-stepfunctions with the same stub tasks as the Rust
// bench and prints {"transitions_per_second": N}. Arguments: definition JSON, seconds, transitions per run.
if (!Promise.withResolvers) {
  // Node 20 lacks it; aws-local-stepfunctions 3 needs it.
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
const { StateMachine } = await import('aws-local-stepfunctions');

const [definitionText, secondsText, perRunText] = process.argv.slice(2);
const definition = JSON.parse(definitionText);
// The peer resolves TimeoutSecondsPath against the Parameters output instead of the state input
// (so `$.decide…` is not found); give it the literal the stub Decide task would yield.
for (const state of Object.values(definition.States)) {
  if (state.TimeoutSecondsPath) {
    delete state.TimeoutSecondsPath;
    state.TimeoutSeconds = 3600;
  }
}
const seconds = Number(secondsText);
const perRun = Number(perRunText);

const ok = () => ({ Payload: { ok: true } });
const handlers = {
  LoadContext: ok,
  Reason: ok,
  Decide: () => ({ Payload: { needs_approval: true, approval_timeout_seconds: 3600 } }),
  // The peer has no token callbacks: the override returns the reviewer's answer directly.
  RequestApproval: () => ({ decision: 'approved' }),
  Act: ok,
  Finalize: ok,
};
const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
const input = { run_id: 'run-1', workflow: 'triage' };

async function runOnce() {
  const context = { Task: { Token: 'token-1' } };
  const execution = machine.run(input, { overrides: { taskResourceLocalHandlers: handlers }, context });
  return execution.result;
}

const first = await runOnce();
if (!first || !first.finalize) {
  throw new Error(`unexpected peer output: ${JSON.stringify(first)}`);
}
const start = performance.now();
let runs = 0;
while (performance.now() - start < seconds * 1000) {
  for (let i = 0; i < 20; i++) {
    await runOnce();
    runs++;
  }
}
const elapsed = (performance.now() - start) / 1000;
console.log(JSON.stringify({ transitions_per_second: (runs * perRun) / elapsed, runs }));
