/* Bounding boxes: draw by dragging, move by dragging a box, resize by its handles, label with
   the picker or 1-9, delete, undo/redo, keyboard nudges. Every coordinate is an integer in the
   image's own pixels (the SVG's viewBox is the image), whatever size the image is shown at. */
import {
  clamp, isRedo, isUndo, makeButtons, makeHistory, makeLabels, makeStage, makeStatus,
  shapeRow, svgEl, wireList,
} from "./common.js";

const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

export function mountBoxes(root, config) {
  const say = makeStatus(root);
  const list = root.querySelector("[data-list]");
  const answer = root.querySelector("[data-answer]");
  const empty = root.querySelector("[data-empty]");
  const minSize = Math.max(1, config.min_size || 1);
  let boxes = [];
  let selected = -1;
  let drag = null;   // {mode: draw|move|resize, start, orig, handle, before, pointerId}
  let draft = null;  // the box being drawn

  const initial = config.initial && Array.isArray(config.initial.boxes) ? config.initial.boxes : [];
  boxes = initial.filter((b) => b && typeof b.x === "number").map((b) => ({
    label: b.label, x: b.x, y: b.y, w: b.w, h: b.h,
  }));

  const snapshot = () => JSON.stringify(boxes);
  const history = makeHistory(snapshot, (s) => { boxes = JSON.parse(s); selected = -1; }, render);
  const labels = makeLabels(root, config, (value) => {
    if (selected >= 0 && boxes[selected] && boxes[selected].label !== value) {
      const before = snapshot();
      boxes[selected].label = value;
      history.record(before);
      say(`Box ${selected + 1} is now ${labels.info(value).label}.`);
    }
  });
  const stage = makeStage(root, config, render);
  const { svg } = stage;
  const refreshButtons = makeButtons(root, {
    undo: () => history.undo(), redo: () => history.redo(), remove: () => removeBox(selected),
  });

  function removeBox(index) {
    if (index < 0 || !boxes[index]) return;
    const before = snapshot();
    boxes.splice(index, 1);
    selected = -1;
    history.record(before);
    say(`Box ${index + 1} deleted.`);
  }

  function select(index) {
    selected = index >= 0 && index < boxes.length ? index : -1;
    if (selected >= 0) labels.set(boxes[selected].label);
    render();
  }

  function sync() {
    if (empty) {
      empty.disabled = boxes.length > 0;
      if (boxes.length) empty.checked = false;
    }
    if (!answer) return;
    if (boxes.length) {
      answer.value = JSON.stringify({
        boxes: boxes.map((b) => ({ label: b.label, x: b.x, y: b.y, w: b.w, h: b.h })),
      });
    } else {
      answer.value = empty && empty.checked ? JSON.stringify({ boxes: [] }) : "";
    }
  }
  if (empty) empty.addEventListener("change", sync);

  function drawBox(box, index, parent) {
    const info = labels.info(box.label);
    const g = svgEl("g", { class: `shape ${info.color_class}${index === selected ? " selected" : ""}` }, parent);
    if (index >= 0) g.dataset.index = String(index);
    svgEl("rect", { class: "shape-body", x: box.x, y: box.y, width: box.w, height: box.h }, g);
    const scale = stage.scale();
    const tag = svgEl("text", {
      class: "shape-tag", x: box.x + 3 * scale, y: Math.max(box.y - 4 * scale, 12 * scale),
      "font-size": 12 * scale,
    }, g);
    tag.textContent = `${index >= 0 ? index + 1 + " " : ""}${info.label}`;
    if (index === selected) {
      const r = stage.handleRadius();
      HANDLES.forEach((h) => {
        const [hx, hy] = handlePoint(box, h);
        svgEl("rect", {
          class: `handle handle-${h}`, "data-handle": h,
          x: hx - r, y: hy - r, width: 2 * r, height: 2 * r,
        }, g);
      });
    }
    return g;
  }

  function handlePoint(b, h) {
    const x = h.includes("w") ? b.x : h.includes("e") ? b.x + b.w : b.x + b.w / 2;
    const y = h.includes("n") ? b.y : h.includes("s") ? b.y + b.h : b.y + b.h / 2;
    return [x, y];
  }

  function render() {
    if (svg && stage.ready) {
      svg.replaceChildren();
      boxes.forEach((b, i) => { if (i !== selected) drawBox(b, i, svg); });
      if (selected >= 0 && boxes[selected]) drawBox(boxes[selected], selected, svg); // on top
      if (draft) drawBox({ ...draft, label: labels.current() }, -1, svg).classList.add("draft");
      svg.setAttribute("aria-label", svg.getAttribute("aria-label").replace(/ \(\d+ box(es)?\)$/, "") +
        ` (${boxes.length} box${boxes.length === 1 ? "" : "es"})`);
    }
    if (list) {
      list.replaceChildren(...boxes.map((b, i) => shapeRow(
        i, "Box", labels.info(b.label), `x ${b.x}, y ${b.y}, ${b.w}×${b.h} px`,
        labels.options(), i === selected,
      )));
    }
    refreshButtons({
      canUndo: history.canUndo(), canRedo: history.canRedo(), canDelete: selected >= 0,
    });
    sync();
  }

  wireList(list, {
    select: (i) => { select(i); if (svg) svg.focus({ preventScroll: true }); },
    remove: removeBox,
    relabel: (i, value) => {
      if (!boxes[i] || boxes[i].label === value) return;
      const before = snapshot();
      boxes[i].label = value;
      history.record(before);
    },
  });

  function fromCorners(x0, y0, x1, y1) {
    const left = Math.round(Math.min(x0, x1)), top = Math.round(Math.min(y0, y1));
    const right = Math.round(Math.max(x0, x1)), bottom = Math.round(Math.max(y0, y1));
    return { x: left, y: top, w: right - left, h: bottom - top };
  }

  if (svg) {
    svg.addEventListener("pointerdown", (event) => {
      if (!stage.ready || (event.button !== undefined && event.button > 0)) return;
      event.preventDefault();
      svg.focus({ preventScroll: true });
      const point = stage.toImage(event);
      const handle = event.target.closest("[data-handle]");
      const shape = event.target.closest("g.shape[data-index]");
      const before = snapshot();
      if (handle && selected >= 0) {
        drag = { mode: "resize", handle: handle.dataset.handle, orig: { ...boxes[selected] }, start: point, before };
      } else if (shape) {
        select(Number(shape.dataset.index));
        drag = { mode: "move", orig: { ...boxes[selected] }, start: point, before };
      } else {
        drag = { mode: "draw", start: point, before };
        draft = null;
      }
      drag.pointerId = event.pointerId;
      svg.setPointerCapture(event.pointerId);
    });

    svg.addEventListener("pointermove", (event) => {
      if (!drag || event.pointerId !== drag.pointerId) return;
      const [x, y] = stage.toImage(event);
      const [sx, sy] = drag.start;
      if (drag.mode === "draw") {
        draft = fromCorners(sx, sy, x, y);
      } else if (drag.mode === "move") {
        const o = drag.orig;
        boxes[selected].x = Math.round(clamp(o.x + x - sx, 0, stage.width - o.w));
        boxes[selected].y = Math.round(clamp(o.y + y - sy, 0, stage.height - o.h));
      } else {
        const o = drag.orig, h = drag.handle;
        let x0 = o.x, y0 = o.y, x1 = o.x + o.w, y1 = o.y + o.h;
        if (h.includes("w")) x0 = x;
        if (h.includes("e")) x1 = x;
        if (h.includes("n")) y0 = y;
        if (h.includes("s")) y1 = y;
        Object.assign(boxes[selected], fromCorners(x0, y0, x1, y1));
      }
      render();
    });

    const finish = (event) => {
      if (!drag || event.pointerId !== drag.pointerId) return;
      const current = drag;
      drag = null;
      if (current.mode === "draw") {
        const box = draft;
        draft = null;
        if (!box || (box.w < 2 && box.h < 2)) {
          select(-1);  // a click on the image: nothing selected
        } else if (box.w < minSize || box.h < minSize) {
          say(`Too small: a box must be at least ${minSize}×${minSize} px of the image.`, "error");
          render();
        } else {
          boxes.push({ label: labels.current(), ...box });
          selected = boxes.length - 1;
          history.record(current.before);
          say(`Box ${selected + 1} (${labels.info(labels.current()).label}) added.`);
        }
        return;
      }
      const box = boxes[selected];
      if (current.mode === "resize" && (box.w < minSize || box.h < minSize)) {
        Object.assign(box, current.orig);
        say(`A box must stay at least ${minSize}×${minSize} px.`, "error");
        render();
      } else if (snapshot() !== current.before) {
        history.record(current.before);
      } else {
        render();
      }
    };
    svg.addEventListener("pointerup", finish);
    svg.addEventListener("pointercancel", finish);
  }

  /** Keys: labels, delete, undo/redo, next box, add a box, arrows move, Alt+arrows resize. */
  function onKey(event) {
    if (isUndo(event)) { history.undo(); return true; }
    if (isRedo(event)) { history.redo(); return true; }
    if (event.ctrlKey || event.metaKey) return false;
    const key = event.key;
    if (/^[1-9]$/.test(key)) return labels.pickKey(key);
    if ((key === "Delete" || key === "Backspace") && selected >= 0) { removeBox(selected); return true; }
    if (key === "Escape" && selected >= 0) { select(-1); return true; }
    if ((key === "n" || key === "N") && boxes.length) {
      const step = event.shiftKey ? -1 : 1;
      select(((selected < 0 ? (step > 0 ? -1 : 0) : selected) + step + boxes.length) % boxes.length);
      say(`Box ${selected + 1} of ${boxes.length} selected.`);
      return true;
    }
    if ((key === "b" || key === "B") && stage.ready) {
      const w = Math.max(minSize, Math.round(stage.width / 4));
      const h = Math.max(minSize, Math.round(stage.height / 4));
      const before = snapshot();
      boxes.push({
        label: labels.current(), x: Math.round((stage.width - w) / 2),
        y: Math.round((stage.height - h) / 2), w, h,
      });
      selected = boxes.length - 1;
      history.record(before);
      say(`Box ${selected + 1} added in the middle: arrows move it, Alt+arrows resize it.`);
      return true;
    }
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (arrows[key] && selected >= 0) {
      const [dx, dy] = arrows[key].map((d) => d * (event.shiftKey ? 10 : 1));
      const box = boxes[selected];
      const before = snapshot();
      if (event.altKey) {
        box.w = clamp(box.w + dx, minSize, stage.width - box.x);
        box.h = clamp(box.h + dy, minSize, stage.height - box.y);
      } else {
        box.x = clamp(box.x + dx, 0, stage.width - box.w);
        box.y = clamp(box.y + dy, 0, stage.height - box.h);
      }
      if (snapshot() !== before) history.record(before);
      return true;
    }
    return false;
  }

  function validate() {
    if (drag) return "Finish the box you are drawing first.";
    if (boxes.length || (empty && empty.checked)) return null;
    return config.allow_empty
      ? "Draw at least one box, or tick “Nothing to mark in this image”."
      : "Draw at least one box.";
  }

  render();
  return { onKey, validate, focus: () => svg && svg.focus({ preventScroll: true }) };
}
