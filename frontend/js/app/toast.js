// app/toast.js — short messages at the bottom of the page ("toasts").

/** Shows `text` for a few seconds; `kind` 'bad' (longer) or 'good' colours it. */
export function flash(text, kind = '') {
  const box = document.createElement('div');
  box.className = `toast ${kind}`;
  box.textContent = text;
  document.body.append(box);
  setTimeout(() => box.remove(), kind === 'bad' ? 8000 : 4000);
}
