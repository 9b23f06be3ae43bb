/* Text spans: select with the mouse (or a finger), or with the keyboard (a caret moved by the
   arrows, Shift+arrows select, Ctrl+arrows by word), then a label key or button marks it.

   Offsets are Python string indices into the ORIGINAL text: code points, not the UTF-16 units
   JavaScript strings count, so the text is split with Array.from and every code point is its
   own element, rendered with white-space: pre-wrap (nothing collapsed or trimmed, CR and LF
   kept), and a selection maps back to indices through those elements only. */
import { isRedo, isUndo, makeButtons, makeHistory, makeLabels, makeStatus } from "./common.js";

const WORD = /[\p{L}\p{N}_'’-]/u;

export function mountSpans(root, config) {
  const say = makeStatus(root);
  const box = root.querySelector("[data-text]");
  const list = root.querySelector("[data-list]");
  const answer = root.querySelector("[data-answer]");
  const empty = root.querySelector("[data-empty]");
  const chars = Array.from(config.text || "");
  const n = chars.length;
  let spans = [];
  let caret = 0;
  let anchor = null;  // keyboard selection: [min(anchor, caret), max(anchor, caret))

  const initial = config.initial && Array.isArray(config.initial.spans) ? config.initial.spans : [];
  spans = initial.filter((s) => s && Number.isInteger(s.start) && Number.isInteger(s.end))
    .map((s) => ({ start: s.start, end: s.end, label: s.label }));

  const snapshot = () => JSON.stringify(spans);
  const history = makeHistory(snapshot, (s) => { spans = JSON.parse(s); }, render);
  const labels = makeLabels(root, config, (value, how) => {
    // Tapping a label button after selecting text (touch screens) marks the selection.
    if (how === "pointer") markSelection(value);
  });
  const refreshButtons = makeButtons(root, {
    undo: () => history.undo(), redo: () => history.redo(), remove: () => {},
  });

  // One element per code point; the text node stays the original characters.
  const cells = chars.map((ch, i) => {
    const cell = document.createElement("span");
    cell.dataset.i = String(i);
    cell.textContent = ch;
    return cell;
  });
  box.replaceChildren(...cells);
  box.classList.add("ready");

  function keyboardRange() {
    if (anchor === null || anchor === caret) return null;
    return [Math.min(anchor, caret), Math.max(anchor, caret)];
  }

  /** Index of a DOM boundary point inside the text box (a start or an end, both exclusive). */
  function boundary(node, offset) {
    if (!box.contains(node)) return null;
    if (node === box) {
      const child = box.childNodes[offset];
      return child && child.dataset ? Number(child.dataset.i) : n;
    }
    const cell = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    if (!cell || cell.dataset.i === undefined) return null;
    const i = Number(cell.dataset.i);
    return offset === 0 ? i : i + 1;
  }

  function mouseRange() {
    const selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    const start = boundary(range.startContainer, range.startOffset);
    const end = boundary(range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) return null;
    return [start, end];
  }

  function trim([start, end]) {
    while (start < end && /\s/u.test(chars[start])) start++;
    while (end > start && /\s/u.test(chars[end - 1])) end--;
    return start < end ? [start, end] : null;
  }

  function markSelection(label) {
    const fromKeys = keyboardRange();
    const raw = fromKeys || mouseRange();
    if (!raw) return false;
    const range = trim(raw);
    if (!range) { say("Only spaces selected: nothing to mark.", "error"); return true; }
    const [start, end] = range;
    if (spans.some((s) => s.start === start && s.end === end && s.label === label)) {
      say("That span is already marked.", "error");
      return true;
    }
    const clash = spans.find((s) => s.start < end && start < s.end);
    if (clash && !config.allow_overlap) {
      say(`It overlaps “${text(clash)}” (${labels.info(clash.label).label}): spans may not overlap here.`, "error");
      return true;
    }
    const before = snapshot();
    spans.push({ start, end, label });
    spans.sort((a, b) => a.start - b.start || a.end - b.end);
    anchor = null;
    caret = end;
    const selection = window.getSelection();
    if (selection) selection.removeAllRanges();
    history.record(before);
    say(`Marked “${text({ start, end })}” as ${labels.info(label).label}.`);
    return true;
  }

  const text = (s) => chars.slice(s.start, s.end).join("");

  function removeAt(index) {
    const hits = spans.filter((s) => s.start <= index && index < s.end);
    if (!hits.length) return false;
    const victim = hits[hits.length - 1];
    const before = snapshot();
    spans = spans.filter((s) => s !== victim);
    history.record(before);
    say(`Removed “${text(victim)}”.`);
    return true;
  }

  function sync() {
    if (empty) {
      empty.disabled = spans.length > 0;
      if (spans.length) empty.checked = false;
    }
    if (!answer) return;
    const shaped = spans.map((s) => ({ start: s.start, end: s.end, label: s.label }));
    answer.value = shaped.length || (empty && empty.checked) ? JSON.stringify({ spans: shaped }) : "";
  }
  if (empty) empty.addEventListener("change", sync);

  function render() {
    const cover = new Array(n).fill(null).map(() => []);
    spans.forEach((s, k) => { for (let i = s.start; i < s.end && i < n; i++) cover[i].push(k); });
    const range = keyboardRange();
    for (let i = 0; i < n; i++) {
      const cell = cells[i];
      const on = cover[i];
      let cls = "";
      if (on.length) {
        const top = spans[on[on.length - 1]];
        cls = `mark ${labels.info(top.label).color_class}`;
        if (on.length > 1) cls += " multi";
        if (top.start === i) cls += " first";
        if (top.end === i + 1) cls += " last";
      }
      if (range && i >= range[0] && i < range[1]) cls += " ksel";
      if (i === caret && box === document.activeElement) cls += " caret";
      if (caret === n && i === n - 1 && box === document.activeElement) cls += " caret-end";
      cell.className = cls.trim();
      const firstHere = on.map((k) => spans[k]).filter((s) => s.start === i);
      if (firstHere.length) cell.dataset.tag = firstHere.map((s) => labels.info(s.label).label).join(" + ");
      else delete cell.dataset.tag;
    }
    if (list) {
      list.replaceChildren(...spans.map((s, k) => {
        const info = labels.info(s.label);
        const li = document.createElement("li");
        li.className = info.color_class;
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        const what = document.createElement("span");
        what.textContent = `${info.label}: “${text(s)}” `;
        const where = document.createElement("span");
        where.className = "muted";
        where.textContent = `${s.start}–${s.end}`;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "secondary small";
        remove.dataset.remove = String(k);
        remove.setAttribute("aria-label", `Remove span ${k + 1} (${info.label} “${text(s)}”)`);
        remove.textContent = "✕";
        li.append(swatch, what, where, remove);
        return li;
      }));
    }
    refreshButtons({ canUndo: history.canUndo(), canRedo: history.canRedo(), canDelete: false });
    sync();
  }

  if (list) {
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-remove]");
      if (!button) return;
      const before = snapshot();
      spans.splice(Number(button.dataset.remove), 1);
      history.record(before);
    });
  }

  // Mouse: choose a label, then drag over the words; the span is marked on release. A plain
  // click puts the caret there (for the keyboard).
  box.addEventListener("pointerup", () => {
    setTimeout(() => {
      const range = mouseRange();
      if (range) { anchor = null; markSelection(labels.current()); return; }
      const selection = window.getSelection();
      if (selection && selection.rangeCount && selection.isCollapsed) {
        const at = boundary(selection.anchorNode, selection.anchorOffset);
        if (at !== null) { caret = at; anchor = null; render(); }
      }
    }, 0);
  });
  box.addEventListener("focus", render);
  box.addEventListener("blur", render);

  function wordStep(from, dir) {
    let i = from;
    if (dir < 0) {
      while (i > 0 && !WORD.test(chars[i - 1])) i--;
      while (i > 0 && WORD.test(chars[i - 1])) i--;
    } else {
      while (i < n && !WORD.test(chars[i])) i++;
      while (i < n && WORD.test(chars[i])) i++;
    }
    return i;
  }

  /** The index on the line above or below the caret nearest to it horizontally. */
  function lineStep(from, dir) {
    const ref = cells[Math.min(from, n - 1)];
    if (!ref) return from;
    const r0 = ref.getBoundingClientRect();
    const x = from === n ? r0.right : r0.left;
    let i = from + dir, line = null, best = from, bestDist = Infinity;
    for (; i >= 0 && i < n; i += dir) {
      const r = cells[i].getBoundingClientRect();
      if (Math.abs(r.top - r0.top) < r0.height / 2) continue;
      if (line === null) line = r.top;
      if (Math.abs(r.top - line) >= r0.height / 2) break;
      const dist = Math.abs(r.left - x);
      if (dist < bestDist) { bestDist = dist; best = i; }
    }
    return best;
  }

  function onKey(event, focused) {
    if (isUndo(event)) { history.undo(); return true; }
    if (isRedo(event)) { history.redo(); return true; }
    const key = event.key;
    if (/^[1-9]$/.test(key) && !event.ctrlKey && !event.metaKey) {
      const radio = root.querySelector(`input[name="anno-label"][data-label-key="${key}"]`);
      if (!radio) return false;
      labels.pickKey(key);
      markSelection(radio.value);
      return true;
    }
    if (!focused) return false;
    const moves = {
      ArrowLeft: () => (event.ctrlKey || event.altKey ? wordStep(caret, -1) : caret - 1),
      ArrowRight: () => (event.ctrlKey || event.altKey ? wordStep(caret, 1) : caret + 1),
      ArrowUp: () => lineStep(caret, -1),
      ArrowDown: () => lineStep(caret, 1),
      Home: () => 0,
      End: () => n,
    };
    if (moves[key]) {
      const next = Math.max(0, Math.min(n, moves[key]()));
      if (event.shiftKey) { if (anchor === null) anchor = caret; } else anchor = null;
      caret = next;
      render();
      const cell = cells[Math.min(caret, n - 1)];
      if (cell) cell.scrollIntoView({ block: "nearest" });
      const range = keyboardRange();
      say(range ? `Selected “${chars.slice(range[0], range[1]).join("")}”.` : "");
      return true;
    }
    if (key === "Escape" && anchor !== null) { anchor = null; render(); return true; }
    if (key === "Delete" || key === "Backspace") {
      if (!removeAt(key === "Backspace" && caret > 0 ? caret - 1 : caret)) say("No span at the caret.", "error");
      return true;
    }
    return false;
  }

  function validate() {
    if (spans.length || (empty && empty.checked)) return null;
    return "Mark at least one span, or tick “Nothing to mark in this text”.";
  }

  render();
  return { onKey, validate, focus: () => box.focus({ preventScroll: true }), textBox: box };
}
