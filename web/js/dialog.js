// dialog.js - modal dialogs on the native <dialog> element: showModal() makes the
// rest of the page inert and traps focus; Escape closes; focus goes back to the
// control that opened it.
import { h } from './util.js';

let seq = 0;

// openDialog({title, body: Node, footer: Node[], wide}) -> {dialog, close()}
export function openDialog({ title, body, footer, wide, onClose }) {
  const id = 'dlg-title-' + ++seq;
  const opener = document.activeElement;
  const closeBtn = h('button.icon-btn', { type: 'button', 'aria-label': 'Close', onclick: () => close() }, '×');
  const dialog = h('dialog.modal', { 'aria-labelledby': id, class: wide ? 'modal-wide' : '' },
    h('header.modal-head', h('h2', { id }, title), closeBtn),
    h('div.modal-body', body),
    footer ? h('footer.modal-foot', footer) : null);
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (onClose) onClose();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  }
  dialog.addEventListener('close', close);
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    close();
  });
  document.body.append(dialog);
  dialog.showModal();
  // First focusable field rather than the close button.
  const first = dialog.querySelector('.modal-body input:not([disabled]), .modal-body select:not([disabled]), .modal-body button:not([disabled])');
  if (first) first.focus();
  return { dialog, close };
}

// confirmDialog(title, text, okLabel) -> Promise<boolean>
export function confirmDialog(title, text, okLabel = 'OK') {
  return new Promise((resolve) => {
    let result = false;
    const ok = h('button.btn.btn-primary', { type: 'button', onclick: () => { result = true; d.close(); } }, okLabel);
    const cancel = h('button.btn', { type: 'button', onclick: () => d.close() }, 'Cancel');
    const d = openDialog({ title, body: h('p', text), footer: [cancel, ok], onClose: () => resolve(result) });
    ok.focus();
  });
}
