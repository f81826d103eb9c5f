// views/step-bar.js — step mode on the page (docs/protocol.md, "Step mode"): the bar under
// the toolbar while the open run is stepped. It starts stepped runs (the Step button beside
// Run, `?step=1`), drives them (Step / Step to next wake / Run until… / Continue / Pause and
// the keys n, w, c), and shows what the run is about to do and what the last step did.
//
// State: `store.state.step` (app/store.js) is {run, token, state, driving, busy, error} for
// the open run when it is stepped, else null. `token` is null when another client drives the
// run (this page only watches). `state` is the server's step state (the answer of a command,
// GET .../step, or a WebSocket `step` message, whichever is newest by `version`).
//
// What it says about tasks comes from the recorded events (step-journal.js), which live.js
// hands over as they arrive, so it agrees with the timeline.

import { el, replaceChildren } from './dom.js';
import { formatDuration, formatCount } from '../units.js';
import { StepJournal, describeNext, describeLastStep, runQueue, liveTasks, allowedCommands, modeText } from '../step-journal.js';
import * as api from '../app/api.js';
import { flash } from '../app/toast.js';
import { TERMINAL_LABELS } from '../model.js';

const $ = (id) => document.getElementById(id);
/** Run-queue entries shown before "+N more". */
const QUEUE_SHOWN = 8;

/** Where a tab keeps the step tokens of runs it started, so a reload still drives them. */
const TOKEN_KEY = 'futurescope.stepTokens';

function rememberToken(run, instance, token) {
  try {
    const all = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || '{}');
    all[`${instance || ''}/${run}`] = token;
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify(all));
  } catch {
    // No storage: the token lives as long as the page.
  }
}

function recallToken(run, instance) {
  try {
    return JSON.parse(sessionStorage.getItem(TOKEN_KEY) || '{}')[`${instance || ''}/${run}`] || null;
  } catch {
    return null;
  }
}

export class StepBar {
  constructor(app) {
    this.app = app;
    this.store = app.store;
    this.root = $('step-bar');
    this.journal = new StepJournal();
    this.journalModel = null; // the model the journal was fed for
    this.selectedFor = null; // the step state version whose next task was selected
    this.endedRun = null; // the run whose end was announced
    this.renderTimer = null;
    // A link another tab handed over (`#drive=TOKEN` with `?run=ID`): this tab may drive that run.
    this.handed = readHandedToken(window.location);
    if (this.handed) history.replaceState(null, '', `${window.location.pathname}${window.location.search}`);
  }

  /** Whether the bar is shown (its keys n, w, c are live only then). */
  get shown() {
    return !this.root.hidden;
  }

  bind() {
    const b = (id, label, key, title, onclick) => el('button', { id, class: 'step-cmd', title: `${title}${key ? ` (${key})` : ''}`, onclick }, label, key ? el('kbd', {}, key) : null);
    this.buttons = {
      step: b('step-btn', 'Step', 'n', 'Let exactly one poll happen, then stop before the next', () => this.command('step')),
      toWake: b('step-wake-btn', 'Step to next wake', 'w', 'Let polls happen until a task is woken, then stop before the next poll', () => this.command('step-to-wake')),
      until: b('step-until-btn', 'Run until', null, 'Let polls of other tasks happen; stop before the chosen task is polled', () => this.runUntil()),
      resume: b('step-continue-btn', 'Continue', 'c', 'Run freely (Pause stops again before the next poll)', () => this.command('continue')),
      pause: b('step-pause-btn', 'Pause', null, 'Stop before the next poll', () => this.command('pause')),
    };
    this.untilPick = el('select', { id: 'step-until-task', 'aria-label': 'Task to run until' });
    this.status = el('span', { id: 'step-status', class: 'step-status', role: 'status' });
    this.driver = el('span', { id: 'step-driver', class: 'step-driver' });
    this.next = el('div', { id: 'step-next', class: 'step-line step-next' });
    this.last = el('div', { id: 'step-last', class: 'step-line step-last' });
    this.queue = el('div', { id: 'step-queue', class: 'step-line step-queue' });
    this.clock = el('span', { id: 'step-clock', class: 'step-clock' });
    this.note = el('div', { id: 'step-note', class: 'step-line step-note', hidden: true });
    this.error = el('div', { id: 'step-error', class: 'step-error', role: 'alert', hidden: true });
    this.handOver = el('button', { id: 'step-handover-btn', class: 'small', title: 'Copy a link that lets another tab (or another person on this machine) drive this run too', onclick: () => this.copyHandOver() }, 'Hand over…');
    const { step, toWake, until, resume, pause } = this.buttons;
    replaceChildren(
      this.root,
      el('div', { class: 'step-controls', role: 'toolbar', 'aria-label': 'Step through the run' }, el('b', { class: 'step-title' }, 'Step mode'), step, toWake, el('span', { class: 'step-until' }, until, this.untilPick), resume, pause, this.status, el('span', { class: 'grow' }), this.clock, this.driver, this.handOver),
      this.error,
      this.next,
      this.last,
      this.queue,
      this.note,
    );
    $('step-run-btn').addEventListener('click', () => this.app.startRun({ step: true }));
    this.store.subscribe((state, changed) => {
      if (changed.has('scenario')) this.describeStepButton(state.scenario);
      if (changed.has('runId') && state.step && String(state.step.run) !== String(state.runId)) this.store.update({ step: null });
      if (changed.has('step') || changed.has('runId') || changed.has('model') || changed.has('selectedTask')) this.render();
    });
    setInterval(() => this.shown && this.renderDriver(), 1000);
  }

  // ---- from the app and the socket ---------------------------------------------------

  /** The page started run `run` in step mode; `info` is the POST's `step` ({token, clock, note}). */
  begin(run, info) {
    rememberToken(run, this.store.state.instance, info.token);
    this.store.update({ step: { run, token: info.token, state: null, driving: false, busy: null, error: null } });
    this.app.live.connection.drive(run, info.token);
    this.refreshState(run);
  }

  /** The Step button says, before a run starts, which clock the scenario keeps in step mode. */
  describeStepButton(scenario) {
    const clock = scenario && scenario.step;
    let title = 'Start the selected scenario paused before its first poll, to step through it one poll at a time';
    if (clock && clock.clock === 'paused') title += ". It runs on tokio's paused clock: timers jump to the next deadline only when nothing else can run";
    else if (clock) title += '. It keeps the real clock';
    if (clock && clock.note) title += ` (${clock.note})`;
    $('step-run-btn').title = title;
  }

  /** Copies a link that lets another tab drive the open stepped run (its step token in the fragment, which is never sent). */
  async copyHandOver() {
    const step = this.store.state.step;
    if (!step || !step.token) return;
    const q = new URLSearchParams(window.location.search);
    q.set('run', String(step.run));
    const link = `${window.location.origin}${window.location.pathname}?${q}#drive=${encodeURIComponent(step.token)}`;
    try {
      await navigator.clipboard.writeText(link);
      flash(`Copied a link that drives run ${step.run}: whoever opens it can step it too.`, 'good');
    } catch {
      this.setError(`Copy this link to let another tab drive run ${step.run}: ${link}`);
    }
  }

  /** Asks the server for the step state (a page that opened a stepped run it did not start watches). */
  async refreshState(run) {
    try {
      this.applyState(await api.fetchStepState(run));
    } catch (err) {
      // A run not in step mode answers 409: nothing to show.
      if (err.status !== 409 && err.status !== 404) this.setError(err.message);
    }
  }

  /** Events of a run the page shows, as they arrive (live.js). */
  onEvents(run, events) {
    const { model, runId } = this.store.state;
    if (String(run) !== String(runId)) return;
    if (this.journalModel !== model) {
      this.journal = new StepJournal();
      this.journalModel = model;
    }
    this.journal.ingest(events);
    if (this.store.state.step) this.scheduleRender();
  }

  /** A WebSocket `step` message. */
  onStep(msg) {
    if (String(msg.run) !== String(this.store.state.runId)) return;
    this.applyState(msg);
  }

  /** The server took this connection as the run's driver. */
  onDriving(msg) {
    const step = this.store.state.step;
    if (step && String(step.run) === String(msg.run)) this.store.update({ step: { ...step, driving: true } });
  }

  /** Takes step state `st` if it is newer than what the page has. */
  applyState(st) {
    if (!st || st.run == null || String(st.run) !== String(this.store.state.runId)) return;
    let step = this.store.state.step;
    if (!step || String(step.run) !== String(st.run)) {
      const instance = this.store.state.runInstance || this.store.state.instance;
      let token = recallToken(st.run, instance);
      if (!token && this.handed && String(this.handed.run) === String(st.run)) {
        token = this.handed.token;
        rememberToken(st.run, instance, token);
      }
      step = { run: st.run, token, state: null, driving: false, busy: null, error: null };
      if (token) this.app.live.connection.drive(st.run, token);
    }
    if (step.state && st.version < step.state.version && st.mode !== 'released') return;
    this.store.update({ step: { ...step, state: st } });
  }

  setError(text) {
    const step = this.store.state.step;
    if (step) this.store.update({ step: { ...step, error: text } });
    else flash(text, 'bad');
  }

  // ---- commands ----------------------------------------------------------------------

  /** Sends `command` (step, step-to-wake, run-until, continue, pause) as the run's driver. */
  async command(command, extra = {}) {
    const step = this.store.state.step;
    if (!step || step.busy) return;
    if (!step.token) {
      this.setError(`Another client drives run ${step.run}: this page only watches it (only the page that started a stepped run, or one given its step token, may step it).`);
      return;
    }
    this.store.update({ step: { ...step, busy: command, error: null } });
    let error = null;
    let answer = null;
    try {
      answer = await api.stepCommand(step.run, command, step.token, extra);
    } catch (err) {
      error = err.message;
    }
    const now = this.store.state.step;
    if (!now || String(now.run) !== String(step.run)) return;
    const fresh = answer && (!now.state || answer.version >= now.state.version);
    this.store.update({ step: { ...now, busy: null, error, state: fresh ? answer : now.state } });
  }

  runUntil() {
    const task = Number(this.untilPick.value);
    if (!this.untilPick.value || !Number.isFinite(task)) {
      this.setError('Choose the task to run until first.');
      return;
    }
    this.command('run-until', { task });
  }

  /** The keys n, w, c while the bar is shown; returns whether the key was taken. */
  handleKey(key) {
    if (!this.shown) return false;
    if (key === 'n') this.command('step');
    else if (key === 'w') this.command('step-to-wake');
    else if (key === 'c') this.command('continue');
    else return false;
    return true;
  }

  // ---- rendering ---------------------------------------------------------------------

  scheduleRender() {
    if (this.renderTimer) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = null;
      this.render();
    }, 50);
  }

  render() {
    const { step, runId, model } = this.store.state;
    const st = step && step.state;
    // Over: the gate says so, or the run's `end` message came (whichever arrives first).
    const ended = model && String(model.meta.run) === String(step && step.run) && model.meta.status !== 'running';
    const over = st && (st.mode === 'released' || st.status !== 'running' || ended);
    const shown = Boolean(st && String(step.run) === String(runId) && !over);
    if (this.root.hidden === shown) this.root.hidden = !shown;
    document.body.classList.toggle('stepping', shown);
    if (st && over && this.endedRun !== step.run) {
      this.endedRun = step.run;
      const status = st.status !== 'running' ? st.status : ended ? model.meta.status : 'over';
      flash(`Run ${step.run} ${status}: ${formatCount(st.steps)} steps, ${formatCount(this.journal.polls)} polls recorded.`, status === 'finished' ? 'good' : '');
    }
    if (!shown) return;
    const can = allowedCommands(st, { driving: Boolean(step.token), busy: Boolean(step.busy) });
    for (const [name, button] of Object.entries(this.buttons)) {
      if (button.disabled !== !can[name]) button.disabled = !can[name];
      button.classList.toggle('busy', Boolean(step.busy) && busyButton(step.busy) === name);
    }
    this.untilPick.disabled = !can.until;
    this.handOver.hidden = !step.token;
    this.renderStatus(step, st);
    this.renderDriver();
    this.error.hidden = !step.error;
    this.error.textContent = step.error || '';
    const next = describeNext(st, this.journal);
    this.renderNext(st, next);
    this.renderLast(describeLastStep(st, this.journal));
    this.renderQueue(next);
    this.renderUntilPick(st, next);
    this.clock.textContent = st.clock === 'paused' ? 'paused clock' : 'real clock';
    this.clock.dataset.clock = st.clock;
    this.clock.title =
      st.clock === 'paused'
        ? "tokio's paused clock: timers jump to the next deadline only when nothing else can run, never because you read for a while"
        : 'This scenario keeps the real clock in step mode: timers and threads go on in real time while you read';
    // A scenario that depends on real time says so (GET /api/scenarios `step.note`).
    this.note.hidden = !st.note;
    if (st.note) line(this.note, st.clock === 'paused' ? 'real time' : 'real clock', st.note);
    this.selectNext(st, next, model);
  }

  renderStatus(step, st) {
    const busy = step.busy ? ` — ${BUSY_TEXT[step.busy] || step.busy}…` : '';
    this.status.textContent = `${modeText(st)}${busy} · step ${formatCount(st.steps)} · ${formatCount(this.journal.polls)} polls recorded`;
    this.status.dataset.steps = String(st.steps);
    this.status.dataset.polls = String(this.journal.polls);
    this.status.dataset.mode = st.mode;
  }

  renderDriver() {
    const step = this.store.state.step;
    const st = step && step.state;
    if (!st) return;
    const d = st.driver || {};
    let text;
    let kind;
    if (d.let_go) {
      text = 'Let go: no driver was connected for 30 s, so the run continues freely';
      kind = 'warn';
    } else if (step.token) {
      text = step.driving ? 'You drive this run' : 'You drive this run (connecting…)';
      kind = 'driver';
    } else {
      text = d.connected ? `Watching: another tab drives this run (${d.connected} connected)` : `Watching: the driver is away${d.absent_ms != null ? ` for ${Math.round(d.absent_ms / 1000)} s (the run continues freely after 30 s)` : ''}`;
      kind = 'observer';
    }
    if (this.driver.textContent !== text) this.driver.textContent = text;
    this.driver.dataset.role = kind;
  }

  renderNext(st, next) {
    if (!next.length) {
      const text =
        st.mode === 'paused'
          ? st.stepping
            ? 'A poll is under way.'
            : 'No worker is waiting at the gate: nothing is runnable now (a timer, a thread or I/O will wake a task; Step takes the next poll that arrives).'
          : st.polling.length
            ? `Polling: ${st.polling.map((p) => `${this.journal.taskName(p.task)} (task ${p.task})`).join(', ')}`
            : '';
      line(this.next, 'next', text);
      return;
    }
    const several = next.length > 1;
    line(
      this.next,
      several ? `next (${next.length})` : 'next',
      el(
        'ul',
        { class: 'step-list' },
        next.map((n) =>
          el(
            'li',
            { dataset: { task: String(n.task) } },
            'poll ',
            el('code', { class: 'task-name' }, n.name),
            ` (task ${n.task}) on `,
            n.worker != null ? `worker ${n.worker} ` : '',
            el('code', {}, n.thread),
            n.firstPoll ? ' — its first poll' : n.woken ? `, woken by ${wakerText(n.woken)} ${formatDuration(n.woken.agoNs)} before` : '',
            n.await && !n.firstPoll ? el('span', { class: 'step-await' }, '; resumes from ', el('code', {}, n.await.label), n.await.loc ? ` (${shortLoc(n.await.loc)})` : '') : null,
          ),
        ),
      ),
    );
  }

  renderLast(last) {
    if (!last) {
      line(this.last, 'last step', this.store.state.step.token ? 'none yet: press Step (n) to let the first poll happen' : 'none yet');
      return;
    }
    const label = `step ${last.step}`;
    const head = ['polled ', el('code', { class: 'task-name' }, last.name), ` (task ${last.task})`];
    if (last.pending) {
      line(this.last, label, ...head, ' — waiting for its events…');
      return;
    }
    const parts = [...head, ` for ${formatDuration(last.ns)} → `];
    if (last.outcome === 'ready') parts.push(el('b', { class: 'ready' }, 'Ready'), last.done ? ` (the task ${last.done})` : '');
    else if (last.outcome === 'drop') parts.push(el('b', {}, 'dropped'), ' (a cancelled task’s future was dropped)');
    else {
      parts.push(el('b', { class: 'pending' }, 'Pending'));
      if (last.awaitAtEnd) parts.push(' at ', el('code', {}, last.awaitAtEnd.label), last.awaitAtEnd.loc ? ` (${shortLoc(last.awaitAtEnd.loc)})` : '');
      parts.push('; ', wakerSentence(last.waker));
    }
    if (last.states.length) {
      parts.push(
        el(
          'div',
          { class: 'step-states' },
          'futures: ',
          stateSteps(last.states).map((s, i) => [i ? ' → ' : '', el('code', {}, s)]),
        ),
      );
    }
    if (last.woke.length) parts.push(el('div', { class: 'step-woke' }, 'woke: ', last.woke.map((w, i) => [i ? ', ' : '', el('code', {}, w.name), ` (task ${w.task}, ${w.op})`])));
    if (last.marks.length) parts.push(el('div', { class: 'step-marks' }, 'marks: ', last.marks.map((m, i) => [i ? ', ' : '', `“${m}”`])));
    line(this.last, label, ...parts);
  }

  renderQueue(next) {
    const queue = runQueue(this.journal, { exclude: next.map((n) => n.task) });
    const shown = queue.slice(0, QUEUE_SHOWN);
    line(
      this.queue,
      'run queue',
      queue.length
        ? [
            shown.map((q, i) => [i ? ', ' : '', el('code', { dataset: { task: String(q.task) } }, q.name), ` (task ${q.task}${q.spawned ? ', spawned' : q.woken ? `, woken by ${wakerText(q.woken)}` : ''})`]),
            queue.length > shown.length ? ` +${formatCount(queue.length - shown.length)} more` : '',
          ]
        : 'empty (no other task is woken and waiting)',
    );
  }

  renderUntilPick(st, next) {
    const { model, selectedTask } = this.store.state;
    const selected = model && model.taskList[selectedTask];
    const first = [...(selected ? [selected.id] : []), ...next.map((n) => n.task)];
    const { tasks, more } = liveTasks(this.journal, { first });
    const key = `${tasks.map((t) => `${t.task}:${t.name}`).join('|')}+${more}`;
    if (this.untilKey === key) return;
    this.untilKey = key;
    const keep = this.untilPick.value;
    const nextTasks = new Set(next.map((n) => String(n.task)));
    replaceChildren(
      this.untilPick,
      el('option', { value: '' }, 'task…'),
      tasks.map((t) => el('option', { value: String(t.task) }, `${t.name} (task ${t.task})${nextTasks.has(String(t.task)) ? ' — next' : ''}`)),
      more ? el('option', { value: '', disabled: true }, `+${formatCount(more)} more: select a task lane to list it first`) : null,
    );
    if (keep && tasks.some((t) => String(t.task) === keep)) this.untilPick.value = keep;
  }

  /** At each new stop, selects the task about to be polled: the task panel and the source pane follow it. */
  selectNext(st, next, model) {
    if (!next.length || !model || this.selectedFor === st.version) return;
    const task = model.tasks.get(next[0].task);
    if (!task) return; // its events have not arrived yet: the next render does it
    this.selectedFor = st.version;
    if (this.store.state.selectedTask !== task.index) {
      this.store.update({ selectedTask: task.index, selectedProbe: null });
      this.app.timeline.revealTask(task.index);
    }
  }
}

/** What the status line says while a command is under way. */
const BUSY_TEXT = { step: 'stepping', 'step-to-wake': 'running to the next wake', 'run-until': 'running until the task is polled', continue: 'continuing', pause: 'pausing' };

/** A line of the bar: its label, then its text. */
function line(node, label, ...content) {
  replaceChildren(node, el('span', { class: 'step-label' }, label), el('span', { class: 'step-body' }, ...content));
}

/** `{run, token}` from a hand-over link (`?run=ID#drive=TOKEN`), else null. */
export function readHandedToken(location) {
  const m = /^#drive=([0-9a-f]+)$/i.exec(location.hash || '');
  const run = new URLSearchParams(location.search).get('run');
  return m && run ? { run, token: m[1] } : null;
}

function busyButton(command) {
  return { step: 'step', 'step-to-wake': 'toWake', 'run-until': 'until', continue: 'resume', pause: 'pause' }[command];
}

/** "the timer (a driver) on `lazy-current`", "thread `peer`", "task `main` (9)". */
function wakerText(w) {
  if (w.kind === 'task') return `${w.name} (task ${w.task})`;
  if (w.kind === 'thread') return `thread ${w.name}`;
  return w.name ? `a driver (timer or I/O) on ${w.name}` : 'a driver (timer or I/O)';
}

/** Where a Pending poll's waker went. */
function wakerSentence(w) {
  if (!w) return '';
  const kept = w.cloned ? `it stored a waker (cloned ${w.cloned}×)` : w.held ? `no new waker cloned (${w.held} from earlier still held)` : 'no waker cloned';
  if (!w.usedBy) return `${kept}; not woken yet`;
  if (w.selfWoken) return `${kept}; it woke itself during the poll (it yields and is runnable again)`;
  return `${kept}; the waker went to ${wakerText(w.usedBy)}, which woke it ${w.usedBy.during ? 'during the poll' : 'after'}`;
}

/**
 * The state changes of a poll as short phrases, in order: "`say_world()` created", an await
 * point's label with its future's name ("child a: sleep(a_ms).await"), "`say_world()` ready". A future's "created" is left out when the same poll then
 * reaches one of its await points (which says more).
 */
function stateSteps(states) {
  const out = [];
  states.forEach((s, i) => {
    const name = s.name || `future ${s.future}`;
    if (s.label === 'start') {
      if (!states.slice(i + 1).some((x) => x.future === s.future && x.label !== 'start')) out.push(`${name} created`);
    } else if (TERMINAL_LABELS.has(s.label)) out.push(`${name} ${s.label}`);
    else {
      // "child a: sleep(a_ms).await" (a probe named after its own await point says it once).
      const text = s.name && s.name !== s.label ? `${s.name}: ${s.label}` : s.label;
      if (out[out.length - 1] !== text) out.push(text);
    }
  });
  return out;
}

function shortLoc(loc) {
  return String(loc).split('/').pop();
}
