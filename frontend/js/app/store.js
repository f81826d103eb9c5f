// app/store.js — the one owner of the page's state: a plain object, one update path and
// subscribers. Every module and view reads `store.state` and changes it only with
// `store.update(patch)`; whoever shows a piece of state subscribes and re-renders when
// its keys are in the `changed` set. Nothing else keeps a copy of these fields.
//
// `update` notifies for every key of the patch, even when the value is the same object
// (a run model is mutated in place by its LiveFeed: `update({model})` says "it changed").

/** The page's state with its initial values. `body` carries the server-rendered data-* values. */
export function initialState({ console: consoleAddr = null, version = '' } = {}) {
  return {
    // What the server offers.
    scenarios: [], // GET /api/scenarios
    scenario: null, // the selected scenario object
    runs: [], // run summaries, newest first (GET /api/runs, hello, run/end/evicted messages)
    console: consoleAddr, // tokio-console's gRPC address, when served
    version,
    instance: null, // the server's instance id (hello `instance`); null: it does not say
    // The open run.
    runId: null, // the run shown, when it is one of the server's (null for an opened file)
    program: null, // its summary when it is a live program's run (views/program-header.js)
    model: null, // its RunModel
    live: false, // events may still arrive for it
    runInstance: null, // the instance of the server the open run belongs to, when known
    // A linked run that cannot be shown: {run, reason: 'missing' | 'earlier', kept}
    // ('earlier': it belongs to an earlier server; `kept`: what the page had stays shown).
    missing: null,
    paused: false, // batches are held back (the LiveFeed's gate; outlives runs)
    // Step mode (views/step-bar.js): the open run when it is stepped, else null:
    // {run, token (null: another client drives it), state (the server's step state),
    // driving (the socket is the driver's presence), busy (a command under way), error}.
    step: null,
    importBannerDismissed: false,
    // Comparing two runs: {ids: [a, b], models: [A, B], loading, token} or null.
    compare: null,
    // Selection and the dock.
    selectedTask: -1, // index into model.taskList
    selectedProbe: null, // id of a probe future outside any task whose panel is open
    tab: 'task', // the dock's tab: 'task' | 'lints' | 'marks' | 'checks' | 'tasks' | 'snapshots'
    // How the timelines draw (pushed to the timeline and the comparison by app.js).
    wakeEdges: true,
    stateStrip: false,
    collapseTasks: false,
    groupSites: false, // one lane per spawn site with many tasks (on once a live program is shown)
    stallNs: 10e6,
    taskFilter: '',
  };
}

export class Store {
  constructor(state) {
    this.state = state;
    this.subscribers = [];
  }

  /** Merges `patch` into the state, then tells every subscriber which keys it set. */
  update(patch) {
    Object.assign(this.state, patch);
    const changed = new Set(Object.keys(patch));
    for (const fn of this.subscribers) fn(this.state, changed);
  }

  /** Calls `fn(state, changed)` after every update; returns the unsubscribe function. */
  subscribe(fn) {
    this.subscribers.push(fn);
    return () => {
      this.subscribers = this.subscribers.filter((f) => f !== fn);
    };
  }
}
