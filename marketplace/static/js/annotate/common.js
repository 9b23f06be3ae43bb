/* What every annotation tool shares: the label picker, undo/redo, the status line, the hidden
   answer field, SVG helpers and the mapping from screen to image pixels. */

export const SVG_NS = "http://www.w3.org/2000/svg";

export function svgEl(name, attrs, parent) {
  const el = document.createElementNS(SVG_NS, name);
  for (const key in attrs) el.setAttribute(key, attrs[key]);
  if (parent) parent.appendChild(el);
  return el;
}

export function clamp(value, low, high) { return Math.min(Math.max(value, low), high); }

/** Undo/redo over snapshots of a tool's state (JSON strings). `record(before)` after a change. */
export function makeHistory(snapshot, restore, changed) {
  const undo = [], redo = [];
  return {
    record(before) { undo.push(before); redo.length = 0; changed(); },
    undo() {
      if (!undo.length) return false;
      redo.push(snapshot()); restore(undo.pop()); changed(); return true;
    },
    redo() {
      if (!redo.length) return false;
      undo.push(snapshot()); restore(redo.pop()); changed(); return true;
    },
    canUndo() { return undo.length > 0; },
    canRedo() { return redo.length > 0; },
  };
}

/** The label picker (radios named anno-label): current value, choose by value or hotkey. */
export function makeLabels(root, config, onPick) {
  const radios = Array.from(root.querySelectorAll('input[name="anno-label"]'));
  const byValue = {};
  config.labels.forEach((l, i) => { byValue[l.value] = { ...l, index: i }; });
  radios.forEach((radio) => radio.addEventListener("change", () => {
    if (radio.checked) onPick(radio.value, "pointer");
  }));
  return {
    current() {
      const checked = radios.find((r) => r.checked);
      return checked ? checked.value : (config.labels[0] || {}).value;
    },
    pickKey(key) {
      const radio = radios.find((r) => r.dataset.labelKey === key);
      if (!radio) return false;
      radio.checked = true;
      onPick(radio.value, "key");
      return true;
    },
    set(value) { radios.forEach((r) => { r.checked = r.value === value; }); },
    info(value) { return byValue[value] || { value, label: value, color_class: "lc0", index: 0 }; },
    options() { return config.labels; },
  };
}

export function makeStatus(root) {
  const el = root.querySelector("[data-status]");
  let timer = null;
  return function say(text, kind) {
    if (!el) return;
    el.textContent = text || "";
    el.className = "anno-status" + (kind ? " " + kind : "");
    clearTimeout(timer);
    if (text && kind !== "error") timer = setTimeout(() => { el.textContent = ""; }, 6000);
  };
}

/** Image pixel size and screen -> image mapping for a stage holding <img> and an SVG overlay.
    The payload's stated size wins (the server validates against it); else the image's own. */
export function makeStage(root, config, onReady) {
  const img = root.querySelector("[data-image]");
  const svg = root.querySelector("[data-svg]");
  const geometry = { img, svg, width: 0, height: 0, ready: false };
  if (!img || !svg) return geometry;
  const ready = () => {
    if (geometry.ready) return;
    geometry.width = config.media.width || img.naturalWidth;
    geometry.height = config.media.height || img.naturalHeight;
    if (!geometry.width || !geometry.height) return;
    geometry.ready = true;
    svg.setAttribute("viewBox", `0 0 ${geometry.width} ${geometry.height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    onReady();
  };
  geometry.toImage = (event) => {
    const rect = svg.getBoundingClientRect();
    return [
      clamp((event.clientX - rect.left) * geometry.width / rect.width, 0, geometry.width),
      clamp((event.clientY - rect.top) * geometry.height / rect.height, 0, geometry.height),
    ];
  };
  // Image pixels per screen pixel: handles and labels keep a constant size on screen.
  geometry.scale = () => {
    const rect = svg.getBoundingClientRect();
    return rect.width ? geometry.width / rect.width : 1;
  };
  geometry.handleRadius = () => {
    const coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    return (coarse ? 14 : 7) * geometry.scale();
  };
  // After the tool has finished mounting (it renders in onReady).
  if (config.media.width && config.media.height) queueMicrotask(ready);
  else if (img.complete && img.naturalWidth) queueMicrotask(ready);
  else img.addEventListener("load", ready);
  window.addEventListener("resize", () => { if (geometry.ready) onReady(); });
  return geometry;
}

/** Wire the Undo/Redo/Delete buttons and keep their disabled state current. */
export function makeButtons(root, handlers) {
  const undo = root.querySelector("[data-undo]");
  const redo = root.querySelector("[data-redo]");
  const del = root.querySelector("[data-delete]");
  if (undo) undo.addEventListener("click", handlers.undo);
  if (redo) redo.addEventListener("click", handlers.redo);
  if (del) del.addEventListener("click", handlers.remove);
  return function refresh(state) {
    if (undo) undo.disabled = !state.canUndo;
    if (redo) redo.disabled = !state.canRedo;
    if (del) del.disabled = !state.canDelete;
  };
}

/** A list row for one shape: select button, label select (touch-friendly relabel), delete. */
export function shapeRow(index, noun, labelInfo, detail, labels, selected) {
  const li = document.createElement("li");
  li.className = labelInfo.color_class + (selected ? " selected" : "");
  li.dataset.index = String(index);
  const pick = document.createElement("button");
  pick.type = "button";
  pick.className = "link-button";
  pick.dataset.select = String(index);
  pick.textContent = `${noun} ${index + 1}`;
  pick.setAttribute("aria-pressed", selected ? "true" : "false");
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.setAttribute("aria-hidden", "true");
  const select = document.createElement("select");
  select.dataset.relabel = String(index);
  select.setAttribute("aria-label", `Label of ${noun.toLowerCase()} ${index + 1}`);
  labels.forEach((l) => {
    const option = document.createElement("option");
    option.value = l.value;
    option.textContent = l.label;
    option.selected = l.value === labelInfo.value;
    select.appendChild(option);
  });
  const info = document.createElement("span");
  info.className = "muted";
  info.textContent = detail;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "secondary small";
  remove.dataset.remove = String(index);
  remove.setAttribute("aria-label", `Delete ${noun.toLowerCase()} ${index + 1}`);
  remove.textContent = "✕";
  li.append(swatch, pick, select, info, remove);
  return li;
}

/** Event delegation for the shape list: select, relabel, remove. */
export function wireList(list, handlers) {
  if (!list) return;
  list.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    if (target.dataset.select !== undefined) handlers.select(Number(target.dataset.select));
    if (target.dataset.remove !== undefined) handlers.remove(Number(target.dataset.remove));
  });
  list.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-relabel]");
    if (select) handlers.relabel(Number(select.dataset.relabel), select.value);
  });
}

export function isUndo(event) {
  return (event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z";
}

export function isRedo(event) {
  const key = event.key.toLowerCase();
  return (event.ctrlKey || event.metaKey) && (key === "y" || (event.shiftKey && key === "z"));
}
