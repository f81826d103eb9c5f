// app/files.js — opening runs from files: the Open… picker, dropping a file on the page,
// and the run given on the command line (`futurescope open FILE`, deep link ?opened=1).
// runfile.js tells a saved run from a tokio-console recording and builds the model;
// this module reads the file and hands the model to the app.

import { openRunText } from '../runfile.js';
import { fetchOpened } from './api.js';
import { flash } from './toast.js';

const $ = (id) => document.getElementById(id);

export class Files {
  constructor(app) {
    this.app = app;
  }

  bind() {
    $('open-file').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', (ev) => {
      const f = ev.target.files[0];
      if (f) this.loadFile(f);
      ev.target.value = '';
    });
    this.bindDrop();
  }

  bindDrop() {
    const overlay = $('drop-overlay');
    let depth = 0;
    window.addEventListener('dragenter', (ev) => {
      if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes('Files')) return;
      depth++;
      overlay.hidden = false;
    });
    window.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) overlay.hidden = true;
    });
    window.addEventListener('dragover', (ev) => ev.preventDefault());
    window.addEventListener('drop', (ev) => {
      ev.preventDefault();
      depth = 0;
      overlay.hidden = true;
      const f = ev.dataTransfer && ev.dataTransfer.files[0];
      if (f) this.loadFile(f);
    });
  }

  /** Opens a saved run or a tokio-console recording (file picker or drop). */
  loadFile(file) {
    const reader = new FileReader();
    reader.onload = () => this.loadText(String(reader.result), file.name, () => file.text());
    reader.onerror = () => flash(`Could not read ${file.name}: ${reader.error && reader.error.message}`, 'bad');
    reader.readAsText(file);
  }

  /** The run given on the command line. */
  async loadOpened() {
    try {
      const { text, name } = await fetchOpened();
      this.loadText(text, name, async () => (await fetchOpened()).text);
    } catch (err) {
      flash(`Could not load the opened run: ${err.message}`, 'bad');
    }
  }

  /**
   * Shows a saved run or a console recording given as text; `reread` gives the text again
   * (for the Perfetto export, so the page need not keep the file's events).
   */
  loadText(text, fileName, reread) {
    let opened;
    try {
      opened = openRunText(text, fileName);
    } catch (err) {
      flash(`Could not open ${fileName}: ${err.message}`, 'bad');
      return;
    }
    this.app.showFile(opened.model, reread);
    flash(opened.note, opened.tone);
  }
}
