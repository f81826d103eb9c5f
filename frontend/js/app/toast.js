// app/toast.js — short messages ("toasts"), stacked in one live region (#toasts in
// index.html) so screen readers announce them and a new one never covers an older one.

const MAX_SHOWN = 4;

/** Shows `text` for a few seconds; `kind` 'bad' (longer) or 'good' colours it. */
export function flash(text, kind = '') {
  const box = document.createElement('div');
  box.className = `toast ${kind}`;
  box.textContent = text;
  const stack = document.getElementById('toasts') || document.body;
  stack.append(box);
  // The oldest go first when many arrive at once.
  while (stack.id === 'toasts' && stack.children.length > MAX_SHOWN) stack.firstElementChild.remove();
  setTimeout(() => box.remove(), kind === 'bad' ? 8000 : 4000);
}
