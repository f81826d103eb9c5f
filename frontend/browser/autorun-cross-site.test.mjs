// A link with `autorun=1` may select a scenario but must not start work on its own when
// it comes from another site: a page on another origin (a second local HTTP server on
// another port) navigates a tab to the dashboard's autorun link, and window.opens it;
// no run is started (GET /api/runs), and the page shows the scenario ready, Run focused
// with "press Run to start". The same link followed from the dashboard itself runs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { useRealServer } from './support/harness.mjs';
import { getJson } from './support/server.mjs';

const ctx = useRealServer();
let foreign;
let foreignUrl;

before(async () => {
  // The other site: one page that sends the visitor to the link, one that opens it.
  foreign = http.createServer((req, res) => {
    const target = `${ctx.base}/?scenario=spawn-many&autorun=1`;
    const body =
      req.url === '/open'
        ? `<!doctype html><button id="go">go</button><script>go.onclick = () => window.open(${JSON.stringify(target)});</script>`
        : `<!doctype html><script>location.href = ${JSON.stringify(target)};</script>`;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(body);
  });
  await new Promise((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  foreignUrl = `http://127.0.0.1:${foreign.address().port}`;
});

after(() => new Promise((resolve) => foreign.close(resolve)));

/** The dashboard waiting for the user: scenario selected, Run highlighted and focused, nothing started. */
async function assertReadyNotRun(page) {
  await page.waitForFunction(() => window.futurescope && window.futurescope.isReady, null, { timeout: 20000 });
  const shown = await page.evaluate(() => ({
    scenario: window.futurescope.app.store.state.scenario && window.futurescope.app.store.state.scenario.name,
    model: window.futurescope.model,
    ready: document.getElementById('run-btn').classList.contains('ready'),
    focused: document.activeElement && document.activeElement.id,
    hint: document.getElementById('run-hint').hidden ? null : document.getElementById('run-hint').textContent,
  }));
  assert.deepEqual(shown, { scenario: 'spawn-many', model: null, ready: true, focused: 'run-btn', hint: 'press Run to start' });
}

test('a foreign page navigating to ?autorun=1 starts no run; the scenario is ready to run', async () => {
  assert.notEqual(new URL(foreignUrl).origin, new URL(ctx.base).origin, 'two sites');
  const page = await ctx.browser.newPage();
  await page.goto(`${foreignUrl}/`);
  await page.waitForURL((u) => u.origin === new URL(ctx.base).origin);
  await assertReadyNotRun(page);
  // Give a page that would POST on its own every chance to.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
  assert.deepEqual(await getJson(`${ctx.base}/api/runs`), [], 'no run was started');
  await page.close();
});

test('a foreign page window.opening ?autorun=1 three times starts no run', async () => {
  const page = await ctx.browser.newPage();
  await page.goto(`${foreignUrl}/open`);
  for (let i = 0; i < 3; i++) {
    // The dashboard's Cross-Origin-Opener-Policy severs the opener, so the new window is
    // a new page of the browser context rather than a popup of this one.
    const [popup] = await Promise.all([page.context().waitForEvent('page'), page.click('#go')]);
    await assertReadyNotRun(popup);
    await popup.close();
  }
  assert.deepEqual(await getJson(`${ctx.base}/api/runs`), [], 'no run was started');
  await page.close();
});

test('pressing Run (the user’s own action) starts it; the same link followed from the dashboard itself runs', async () => {
  const page = await ctx.browser.newPage();
  await page.goto(`${foreignUrl}/`);
  await page.waitForURL((u) => u.origin === new URL(ctx.base).origin);
  await assertReadyNotRun(page);
  await page.keyboard.press('Enter'); // Run has the focus
  await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.meta.run != null);
  assert.equal((await getJson(`${ctx.base}/api/runs`)).length, 1);
  assert.ok(await page.isHidden('#run-hint'));
  // From the dashboard's own page (same-origin referrer) the link runs at once.
  await page.evaluate(() => {
    location.href = '/?scenario=spawn-many&autorun=1';
  });
  await page.waitForFunction(() => window.futurescope && window.futurescope.isReady && window.futurescope.model, null, { timeout: 20000 });
  await page.waitForFunction(async () => (await (await fetch('/api/runs')).json()).length === 2, null, { timeout: 10000 });
  await page.close();
});
