// @ts-check
// The demo page's before/after comparison: a split dragged by pointer or moved by keyboard, or the
// two side by side. Served as /assets/demo-compare.client.js, imported by demo.js.

/** @template {HTMLElement} T @param {string} id @returns {T} */
const $ = (id) => /** @type {T} */ (document.getElementById(id));
const frame = $("frame");
const afterPane = $("after-pane");
const handle = $("handle");
let split = 50;

/** @param {number} value  0-100: the share of the width that shows the original */
function setSplit(value) {
  split = Math.min(100, Math.max(0, Math.round(value)));
  afterPane.style.clipPath = `inset(0 0 0 ${split}%)`;
  handle.style.left = `${split}%`;
  handle.setAttribute("aria-valuenow", String(split));
  handle.setAttribute("aria-valuetext", `${split}% before`);
}

/** @param {PointerEvent} e */
function splitFromPointer(e) {
  const box = frame.getBoundingClientRect();
  if (box.width > 0) setSplit((100 * (e.clientX - box.left)) / box.width);
}

frame.addEventListener("pointerdown", (e) => {
  if (frame.classList.contains("side") || e.button !== 0) return;
  // No text selection or image drag-and-drop: the gesture is the split's.
  e.preventDefault();
  frame.setPointerCapture(e.pointerId);
  splitFromPointer(e);
  handle.focus({ preventScroll: true });
});
frame.addEventListener("pointermove", (e) => {
  if (frame.hasPointerCapture(e.pointerId)) splitFromPointer(e);
});
frame.addEventListener("dragstart", (e) => e.preventDefault());
handle.addEventListener("keydown", (e) => {
  const steps = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 };
  const step = steps[/** @type {keyof typeof steps} */ (e.key)];
  if (step !== undefined) setSplit(split + step * (e.shiftKey ? 10 : 1));
  else if (e.key === "Home") setSplit(0);
  else if (e.key === "End") setSplit(100);
  else return;
  e.preventDefault();
});

for (const radio of document.querySelectorAll('input[name="view"]')) {
  radio.addEventListener("change", (e) => {
    const side = /** @type {HTMLInputElement} */ (e.target).value === "side";
    frame.classList.toggle("side", side);
    handle.hidden = side;
    afterPane.style.clipPath = side ? "none" : `inset(0 0 0 ${split}%)`;
  });
}

setSplit(50);
