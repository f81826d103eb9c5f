// Step mode from the page (issue 19): `?step=1` only preselects the Step button (nothing
// starts on load); pressing it starts lazy-future paused; the step bar's buttons and keys
// (n, w, c) drive it; what the bar shows (the next poll, the last step, the step count, the
// polls recorded) is checked against GET /api/runs/{id}/step and /events; another tab only
// watches; Continue runs it to its end, and c is Compact again once the bar is gone.
// join-vs-select: Run until a task, a hand-over link that lets a second tab drive, Pause, the
// join! task polling both children in one poll. hand-written-future: one enum state per
// step, the peer thread named as the waker's destination, a reload still drives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, setParams } from './support/harness.mjs';
import { getJson, fetchEvents, waitForRunEnd } from './support/server.mjs';
import { shot } from './support/browser.mjs';

const ctx = useRealServer();

/** What the step bar shows, read from the page. */
function shownBar(page) {
  return page.evaluate(() => {
    const bar = document.getElementById('step-bar');
    const status = document.getElementById('step-status');
    return {
      hidden: bar.hidden,
      mode: status.dataset.mode,
      steps: Number(status.dataset.steps),
      polls: Number(status.dataset.polls),
      status: status.textContent,
      next: [...document.querySelectorAll('#step-next li')].map((li) => Number(li.dataset.task)),
      nextText: document.getElementById('step-next').textContent,
      last: document.getElementById('step-last').textContent,
      driver: document.getElementById('step-driver').textContent,
      error: document.getElementById('step-error').hidden ? null : document.getElementById('step-error').textContent,
      stepDisabled: document.getElementById('step-btn').disabled,
    };
  });
}

/** Waits until the page's bar is settled at step `steps` and has the events of that step. */
async function settled(page, steps) {
  const waited = page.waitForFunction(
    (n) => {
      const s = document.getElementById('step-status');
      const last = document.getElementById('step-last').textContent;
      const idle = !document.querySelector('.step-cmd.busy');
      return idle && s.dataset.mode === 'paused' && Number(s.dataset.steps) === n && (n === 0 || !/waiting for its events/.test(last));
    },
    steps,
    { timeout: 20000 },
  );
  try {
    await waited;
  } catch (err) {
    throw new Error(`the step bar did not settle at step ${steps}: ${JSON.stringify(await shownBar(page))}`, { cause: err });
  }
}

/** poll_start events in /events and the ones within [start, end] of the run's clock. */
async function polls(base, run) {
  const { events } = await fetchEvents(base, run);
  return { events, starts: events.filter((e) => e.k === 'poll_start') };
}

/** Steps on until the page's polls-recorded figure equals /events' poll_starts (events arrive in batches). */
async function agreeOnPolls(page, base, run) {
  for (let i = 0; i < 100; i++) {
    const { starts } = await polls(base, run);
    const shown = await shownBar(page);
    if (shown.polls === starts.length) return { shown, starts };
    await page.waitForTimeout(100);
  }
  const { starts } = await polls(base, run);
  assert.equal((await shownBar(page)).polls, starts.length, 'polls recorded shown vs /events poll_start');
}

test('lazy-future stepped from the page: buttons, keys, the shown state against GET step and /events, Continue to the end', async () => {
  const page = await ctx.open('?scenario=lazy-future&step=1', { width: 1280, height: 900 });
  // The deep link preselects step mode and waits for the user.
  await page.waitForTimeout(300);
  assert.deepEqual(await getJson(`${ctx.base}/api/runs`), [], 'no run starts on load');
  assert.deepEqual(
    await page.evaluate(() => ({ ready: document.getElementById('step-run-btn').classList.contains('ready'), focused: document.activeElement.id, hint: document.getElementById('run-hint').textContent, bar: document.getElementById('step-bar').hidden })),
    { ready: true, focused: 'step-run-btn', hint: 'press Step to start it paused', bar: true },
  );

  await page.click('#step-run-btn');
  await page.waitForSelector('#step-bar:not([hidden])', { timeout: 20000 });
  const run = await page.evaluate(() => window.futurescope.model.meta.run);
  await settled(page, 0);
  let server = await getJson(`${ctx.base}/api/runs/${run}/step`);
  assert.equal(server.mode, 'paused');
  assert.deepEqual(server.stop, { why: 'start' });
  assert.equal(server.passed, 0, 'nothing polled before the first step');
  await page.waitForFunction(() => document.querySelectorAll('#step-next li').length > 0, null, { timeout: 20000 });
  let shown = await shownBar(page);
  assert.deepEqual(shown.next, server.waiting.map((w) => w.task), 'the next poll shown is the one the gate holds');
  assert.match(shown.nextText, /its first poll/);
  assert.match(shown.status, /paused before the first poll · step 0/);
  assert.match(shown.driver, /You drive this run/);
  assert.equal((await polls(ctx.base, run)).starts.length, 0, 'no poll_start before a step');
  await shot(page, 'step-mode-paused-1280');

  // Another tab watches: its bar says so, and it cannot step.
  const watcher = await ctx.open(`?scenario=lazy-future&run=${run}`, { width: 1024, height: 900 });
  await watcher.waitForSelector('#step-bar:not([hidden])', { timeout: 20000 });
  await watcher.waitForFunction(() => /Watching: another tab drives this run/.test(document.getElementById('step-driver').textContent), null, { timeout: 20000 });
  assert.equal((await shownBar(watcher)).stepDisabled, true, "an observer's Step is disabled");
  await watcher.keyboard.press('n');
  await watcher.waitForSelector('#step-error:not([hidden])');
  assert.match((await shownBar(watcher)).error, /Another client drives run/);
  await shot(watcher, 'step-mode-watcher-1024');

  // Step with the button, then with n: each is exactly one poll, of the task the bar named.
  let steps = 0;
  let sayWorldStep = null;
  let markStep = null;
  // Until say_world() is first polled (lazy-future has six polls in all: leave some for w and c).
  for (const how of ['button', 'key', 'key', 'button']) {
    if (sayWorldStep != null) break;
    const before = await getJson(`${ctx.base}/api/runs/${run}/step`);
    assert.equal(before.waiting.length, 1, 'one worker waits at the gate: the timer fired on the paused clock');
    const expected = before.waiting[0].task;
    if (how === 'button') await page.click('#step-btn');
    else await page.keyboard.press('n');
    steps++;
    await settled(page, steps);
    server = await getJson(`${ctx.base}/api/runs/${run}/step`);
    assert.equal(server.steps, steps, `step ${steps} by ${how}`);
    assert.equal(server.last_step.task, expected, 'the step polled the task the bar said was next');
    const { shown: bar, starts } = await agreeOnPolls(page, ctx.base, run);
    assert.equal(starts.length, server.passed, 'one poll_start per poll the gate let through');
    assert.equal(bar.steps, server.steps);
    assert.match(bar.last, new RegExp(`^step ${steps}polled .* \\(task ${expected}\\) for `));
    assert.deepEqual(bar.next, server.waiting.map((w) => w.task));
    // Which step first polled say_world() (a state of that probe other than `start`), and
    // which one made main reach `.await` on it.
    const { events } = await fetchEvents(ctx.base, run);
    const stepEvents = events.filter((e) => e.t >= server.last_step.start && e.t <= server.last_step.end);
    const probe = events.find((e) => e.k === 'state' && e.name === 'say_world()');
    if (markStep == null && stepEvents.some((e) => e.k === 'mark' && /main reaches say_world\(\)\.await/.test(e.label))) markStep = steps;
    if (sayWorldStep == null && probe && stepEvents.some((e) => e.k === 'state' && e.future === probe.future && e.label !== 'start')) {
      sayWorldStep = steps;
      assert.match(bar.last, /say_world\(\)/, 'the bar shows say_world() moving in that step');
    }
  }
  assert.ok(markStep != null && sayWorldStep != null, `steps reached main's .await (${markStep}) and say_world()'s first poll (${sayWorldStep})`);
  assert.equal(sayWorldStep, markStep, "say_world()'s first poll happens in main's poll that reaches .await on it, never before");

  // w: polls go on until a wake, then it stops before the next poll.
  await page.keyboard.press('w');
  await page.waitForFunction(() => document.getElementById('step-status').dataset.mode === 'paused' && /woken/.test(document.getElementById('step-status').textContent) && !document.querySelector('.step-cmd.busy'), null, { timeout: 20000 });
  server = await getJson(`${ctx.base}/api/runs/${run}/step`);
  assert.equal(server.stop.why, 'wake');
  await agreeOnPolls(page, ctx.base, run);
  const wakes = (await fetchEvents(ctx.base, run)).events.filter((e) => e.k === 'wake');
  assert.ok(wakes.length > 0, 'a wake was recorded');
  if (server.waiting.length) {
    await page.waitForFunction((task) => [...document.querySelectorAll('#step-next li')].some((li) => Number(li.dataset.task) === task && /woken by/.test(li.textContent)), server.waiting[0].task, { timeout: 20000 });
  }
  await shot(page, 'step-mode-after-wake-1280');

  // c while the bar is shown: Continue, to the end; then the bar goes and c is Compact again.
  assert.equal(await page.evaluate(() => window.futurescope.app.store.state.collapseTasks), false);
  await page.keyboard.press('c');
  const end = await waitForRunEnd(ctx.base, run);
  assert.equal(end.status, 'finished');
  await page.waitForSelector('#step-bar[hidden]', { state: 'attached', timeout: 20000 });
  assert.equal(await page.evaluate(() => window.futurescope.app.store.state.collapseTasks), false, 'c continued, it did not toggle Compact');
  server = await getJson(`${ctx.base}/api/runs/${run}/step`);
  assert.equal(server.mode, 'released');
  await page.keyboard.press('c');
  assert.equal(await page.evaluate(() => window.futurescope.app.store.state.collapseTasks), true, 'without the bar, c is Compact');
  assert.deepEqual(page.errors, []);
  assert.deepEqual(watcher.errors, []);
  await watcher.close();
  await page.close();
});

test('Run until a task, Pause while running, and the help lists the step keys', async () => {
  const page = await ctx.open('?scenario=join-vs-select', { width: 1600, height: 1000 });
  await page.click('#step-run-btn');
  await page.waitForSelector('#step-bar:not([hidden])', { timeout: 20000 });
  const run = await page.evaluate(() => window.futurescope.model.meta.run);
  await settled(page, 0);
  // Step until a second task exists, then run until it is polled. Each step of the join!
  // task polls both children in turn inside one task poll: the bar lists them in that order.
  let target = null;
  let joinSteps = 0;
  for (let n = 1; n <= 12 && (target == null || joinSteps < 2); n++) {
    await page.keyboard.press('n');
    await settled(page, n);
    const st = await getJson(`${ctx.base}/api/runs/${run}/step`);
    const { events } = await fetchEvents(ctx.base, run);
    const inPoll = events.filter((e) => e.k === 'state' && e.task === st.last_step.task && e.t >= st.last_step.start && e.t <= st.last_step.end && e.label !== 'start');
    const names = new Map(events.filter((e) => e.k === 'state' && e.name).map((e) => [e.future, e.name]));
    if (new Set(inPoll.map((e) => e.future)).size >= 2) {
      joinSteps++;
      const last = await page.$eval('#step-last', (e) => e.textContent);
      const expected = inPoll.map((e) => `${names.get(e.future)}: ${e.label}`);
      let from = 0;
      for (const text of expected) {
        const at = last.indexOf(text, from);
        assert.ok(at >= 0, `step ${n} shows "${text}" after position ${from}: ${last}`);
        from = at + text.length;
      }
    }
    const options = await page.$$eval('#step-until-task option', (os) => os.map((o) => o.value).filter(Boolean).map(Number));
    target = options.find((t) => !st.waiting.some((w) => w.task === t) && t !== st.last_step.task) ?? null;
  }
  assert.ok(target != null, 'a task to run until');
  assert.ok(joinSteps >= 2, `steps of the join! task polled both children (${joinSteps})`);
  await page.selectOption('#step-until-task', String(target));
  await page.click('#step-until-btn');
  await page.waitForFunction((t) => /before task \d+'s poll/.test(document.getElementById('step-status').textContent) && !document.querySelector('.step-cmd.busy'), target, { timeout: 20000 });
  let st = await getJson(`${ctx.base}/api/runs/${run}/step`);
  assert.deepEqual(st.stop, { why: 'task', task: target });
  assert.equal(st.waiting[0].task, target);
  await page.waitForFunction((t) => Number(document.querySelector('#step-next li')?.dataset.task) === t, target, { timeout: 20000 });
  await shot(page, 'step-mode-run-until-1600');

  // Hand over: the driver copies a link; a tab that opens it drives too (its step shows in both).
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ctx.base });
  await page.click('#step-handover-btn');
  const link = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(link, new RegExp(`[?&]run=${run}(&|#).*#drive=[0-9a-f]+$`));
  const other = await ctx.open(link.slice(ctx.base.length + 1), { width: 1280, height: 900 });
  await other.waitForFunction(() => /You drive this run/.test(document.getElementById('step-driver').textContent) && !document.getElementById('step-btn').disabled, null, { timeout: 20000 });
  assert.equal(await other.evaluate(() => location.hash), '', 'the token leaves the address bar');
  const before = (await getJson(`${ctx.base}/api/runs/${run}/step`)).steps;
  await other.keyboard.press('n');
  await settled(other, before + 1);
  await settled(page, before + 1);
  assert.equal((await getJson(`${ctx.base}/api/runs/${run}/step`)).steps, before + 1);
  assert.deepEqual(other.errors, []);
  await other.close();
  // Continue with the button, then Pause: it stops before the next poll (unless the run ended first).
  await page.click('#step-continue-btn');
  await page.waitForFunction(() => ['running', undefined].includes(document.getElementById('step-status').dataset.mode) || document.getElementById('step-bar').hidden, null, { timeout: 20000 });
  if (!(await page.isHidden('#step-bar'))) {
    await page.click('#step-pause-btn').catch(() => {});
    st = await getJson(`${ctx.base}/api/runs/${run}/step`);
    assert.ok(['paused', 'released'].includes(st.mode), `after Pause: ${st.mode}`);
    if (st.mode === 'paused') assert.deepEqual(st.stop, { why: 'pause' });
    if (st.mode === 'paused') await page.keyboard.press('c');
  }
  assert.equal((await waitForRunEnd(ctx.base, run)).status, 'finished');
  // The keys are in the help.
  await page.keyboard.press('?');
  const help = await page.$eval('#help', (h) => h.textContent);
  assert.match(help, /step mode: step \(exactly one poll\)/);
  assert.match(help, /step mode: step to the next wake/);
  assert.match(help, /while the step bar is shown: continue/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('hand-written-future: each step shows the enum state it moved to; a Pending step names the peer thread its waker went to', async () => {
  const page = await ctx.open('?scenario=hand-written-future&step=1', { width: 1024, height: 900 });
  await setParams(page, { delay_ms: 30 });
  await page.click('#step-run-btn');
  await page.waitForSelector('#step-bar:not([hidden])', { timeout: 20000 });
  const run = await page.evaluate(() => window.futurescope.model.meta.run);
  await settled(page, 0);
  // A reload of the driving tab still drives (the tab keeps the step token).
  await page.reload();
  await page.waitForFunction(() => window.futurescope && window.futurescope.isReady, null, { timeout: 20000 });
  await page.waitForFunction(() => /You drive this run/.test(document.getElementById('step-driver').textContent) && !document.getElementById('step-btn').disabled, null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.futurescope.model.meta.run), run);
  const seen = [];
  for (let n = 1; n <= 10; n++) {
    await page.keyboard.press('n');
    await page
      .waitForFunction((k) => document.getElementById('step-bar').hidden || (Number(document.getElementById('step-status').dataset.steps) >= k && !document.querySelector('.step-cmd.busy')), n, { timeout: 20000 })
      .catch(async (err) => {
        throw new Error(`step ${n}: ${JSON.stringify(await shownBar(page))} focus ${await page.evaluate(() => document.activeElement.tagName)}`, { cause: err });
      });
    const st = await getJson(`${ctx.base}/api/runs/${run}/step`);
    if (st.mode === 'released') {
      // The last poll ended the run: the bar goes away.
      await page.waitForSelector('#step-bar[hidden]', { state: 'attached', timeout: 20000 });
      break;
    }
    await settled(page, n);
    const { events } = await fetchEvents(ctx.base, run);
    const handshake = events.find((e) => e.k === 'spawn' && e.name === 'handshake');
    if (!handshake || st.last_step.task !== handshake.task) continue;
    const inPoll = events.filter((e) => e.task === handshake.task && e.t >= st.last_step.start && e.t <= st.last_step.end);
    const variant = inPoll.filter((e) => e.k === 'state' && !['start', 'ready'].includes(e.label)).map((e) => e.label).pop();
    const ready = inPoll.some((e) => e.k === 'poll_end' && e.ready);
    const last = await page.$eval('#step-last', (e) => e.textContent);
    assert.ok(variant && last.includes(variant), `step ${n} shows the enum's state ${variant}: ${last}`);
    seen.push(variant);
    if (!ready) {
      // The peer thread answers after its think time, with the waker the poll left in the Line.
      await page.waitForFunction(() => /Pending.*the waker went to thread peer/.test(document.getElementById('step-last').textContent), null, { timeout: 20000 });
      await page.waitForFunction((t) => [...document.querySelectorAll('#step-next li')].some((li) => Number(li.dataset.task) === t && /woken by thread peer/.test(li.textContent)), handshake.task, { timeout: 20000 });
    } else assert.match(last, /Ready/);
    if (variant === 'WaitingForAccept') await shot(page, 'step-mode-hand-written-1024');
  }
  assert.deepEqual(seen, ['WaitingForHello', 'WaitingForAccept', 'WaitingForData', 'Done'], 'one enum state per step of the handshake task');
  assert.equal((await waitForRunEnd(ctx.base, run)).status, 'finished');
  assert.deepEqual(page.errors, []);
  await page.close();
});
