// app/keys.js — the keyboard shortcuts (the help dialog's table in index.html). Keys act
// on the active view (the timeline or the comparison); typing in a field is left alone
// (Esc leaves the field). A new shortcut is one `case` here and one row in the table.

import { TOGGLES } from './toolbar.js';

export function bindKeys(app) {
  const toggles = new Map(TOGGLES.map((t) => [t.shortcut, t.key]));
  window.addEventListener('keydown', (ev) => {
    // An open dialog takes Esc first, even from its own fields (the Compare dialog opens
    // with a select focused).
    if (app.compareMode.dialogOpen) {
      if (ev.key === 'Escape') {
        app.compareMode.closeDialog();
        ev.preventDefault();
      }
      return;
    }
    const target = ev.target;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) {
      if (ev.key === 'Escape') target.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tl = app.activeView();
    const step = tl.viewport.widthPx / 5;
    // While a stepped run's bar is shown, n / w / c step it (c is Compact otherwise).
    if (app.stepBar.handleKey(ev.key)) {
      ev.preventDefault();
      return;
    }
    if (toggles.has(ev.key)) {
      app.toolbar.toggle(toggles.get(ev.key));
      ev.preventDefault();
      return;
    }
    switch (ev.key) {
      case ' ':
        app.togglePause();
        break;
      case 'f':
        tl.setFollow(!tl.follow);
        break;
      case '+':
      case '=':
        tl.zoom(1.6);
        break;
      case '-':
      case '_':
        tl.zoom(1 / 1.6);
        break;
      case '0':
        tl.fitAll();
        break;
      case 'ArrowLeft':
        tl.pan(step);
        break;
      case 'ArrowRight':
        tl.pan(-step);
        break;
      case 'ArrowUp':
        tl.scrollBy(-60);
        break;
      case 'ArrowDown':
        tl.scrollBy(60);
        break;
      case '[':
        app.selectAdjacentTask(-1);
        break;
      case ']':
        app.selectAdjacentTask(1);
        break;
      case 'r':
        app.startRun();
        break;
      case 'l':
        app.store.update({ tab: 'lints' });
        break;
      case 't':
        app.store.update({ tab: app.store.state.tab === 'tasks' ? 'task' : 'tasks' });
        break;
      case 'k':
        app.compareMode.openDialog();
        break;
      case 'd':
        app.snapshots.take();
        break;
      case 'o':
        if (app.selectedTask >= 0) app.timeline.toggleFutures(app.selectedTask);
        break;
      case 'O':
        app.timeline.setAllFutures(!app.timeline.anyFuturesOpen());
        break;
      case '?':
        app.toggleHelp();
        break;
      case 'Escape':
        if (!document.getElementById('help').hidden) app.toggleHelp(false);
        else if (app.store.state.compare) app.compareMode.exit();
        else app.selectTask(-1);
        break;
      default:
        return;
    }
    ev.preventDefault();
  });
}
