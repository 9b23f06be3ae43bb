/* Polygons: click (or tap) to add points, close by clicking the first point or pressing Enter,
   drag any point to move it, label with the picker or 1-9, delete, undo/redo. Points are
   integers in the image's own pixels. */
import {
  clamp, isRedo, isUndo, makeButtons, makeHistory, makeLabels, makeStage, makeStatus,
  shapeRow, svgEl, wireList,
} from "./common.js";

export function mountPolygons(root, config) {
  const say = makeStatus(root);
  const list = root.querySelector("[data-list]");
  const answer = root.querySelector("[data-answer]");
  let polygons = [];
  let selected = -1;
  let draft = null;    // [[x, y], ...] while drawing
  let hover = null;    // pointer position while drawing (the rubber band)
  let drag = null;     // {poly, vertex, before, pointerId, moved}

  const initial = config.initial && Array.isArray(config.initial.polygons) ? config.initial.polygons : [];
  polygons = initial.filter((p) => p && Array.isArray(p.points)).map((p) => ({
    label: p.label, points: p.points.map((pt) => [pt[0], pt[1]]),
  }));

  const snapshot = () => JSON.stringify(polygons);
  const history = makeHistory(snapshot, (s) => { polygons = JSON.parse(s); selected = -1; }, render);
  const labels = makeLabels(root, config, (value) => {
    if (selected >= 0 && polygons[selected] && polygons[selected].label !== value) {
      const before = snapshot();
      polygons[selected].label = value;
      history.record(before);
    }
    render();
  });
  const stage = makeStage(root, config, render);
  const { svg } = stage;
  const refreshButtons = makeButtons(root, {
    undo: () => undo(), redo: () => history.redo(), remove: () => removePolygon(selected),
  });

  function undo() {
    if (draft && draft.length) { draft.pop(); if (!draft.length) draft = null; render(); return; }
    history.undo();
  }

  function removePolygon(index) {
    if (index < 0 || !polygons[index]) return;
    const before = snapshot();
    polygons.splice(index, 1);
    selected = -1;
    history.record(before);
    say(`Polygon ${index + 1} deleted.`);
  }

  function closeDraft() {
    if (!draft) return false;
    if (draft.length < 3) {
      say("A polygon needs at least 3 points.", "error");
      return false;
    }
    const before = snapshot();
    polygons.push({ label: labels.current(), points: draft });
    draft = null;
    hover = null;
    selected = polygons.length - 1;
    history.record(before);
    say(`Polygon ${selected + 1} (${labels.info(labels.current()).label}) closed.`);
    return true;
  }

  function sync() {
    if (!answer) return;
    answer.value = polygons.length
      ? JSON.stringify({ polygons: polygons.map((p) => ({ label: p.label, points: p.points })) })
      : "";
  }

  function drawPolygon(poly, index, parent) {
    const info = labels.info(poly.label);
    const g = svgEl("g", { class: `shape ${info.color_class}${index === selected ? " selected" : ""}` }, parent);
    g.dataset.index = String(index);
    svgEl("polygon", { class: "shape-body", points: poly.points.map((p) => p.join(",")).join(" ") }, g);
    const scale = stage.scale();
    const [tx, ty] = poly.points[0];
    const tag = svgEl("text", {
      class: "shape-tag", x: tx + 4 * scale, y: Math.max(ty - 4 * scale, 12 * scale), "font-size": 12 * scale,
    }, g);
    tag.textContent = `${index + 1} ${info.label}`;
    const r = stage.handleRadius() * (index === selected ? 1 : 0.6);
    poly.points.forEach((p, j) => {
      svgEl("circle", { class: "vertex", cx: p[0], cy: p[1], r, "data-vertex": j }, g);
    });
  }

  function render() {
    if (svg && stage.ready) {
      svg.replaceChildren();
      polygons.forEach((p, i) => { if (i !== selected) drawPolygon(p, i, svg); });
      if (selected >= 0 && polygons[selected]) drawPolygon(polygons[selected], selected, svg);
      if (draft) {
        const info = labels.info(labels.current());
        const g = svgEl("g", { class: `shape draft ${info.color_class}` }, svg);
        const points = hover ? [...draft, hover] : draft;
        svgEl("polyline", { class: "shape-body", points: points.map((p) => p.join(",")).join(" ") }, g);
        const r = stage.handleRadius();
        draft.forEach((p, j) => {
          svgEl("circle", {
            class: j === 0 ? "vertex first" : "vertex", cx: p[0], cy: p[1], r, "data-draft-vertex": j,
          }, g);
        });
      }
    }
    if (list) {
      list.replaceChildren(...polygons.map((p, i) => shapeRow(
        i, "Polygon", labels.info(p.label), `${p.points.length} points`, labels.options(), i === selected,
      )));
    }
    refreshButtons({
      canUndo: history.canUndo() || !!draft, canRedo: history.canRedo(), canDelete: selected >= 0,
    });
    sync();
  }

  wireList(list, {
    select: (i) => { selected = i; labels.set(polygons[i].label); render(); },
    remove: removePolygon,
    relabel: (i, value) => {
      if (!polygons[i] || polygons[i].label === value) return;
      const before = snapshot();
      polygons[i].label = value;
      history.record(before);
    },
  });

  const round = ([x, y]) => [Math.round(x), Math.round(y)];

  if (svg) {
    svg.addEventListener("pointerdown", (event) => {
      if (!stage.ready || (event.button !== undefined && event.button > 0)) return;
      event.preventDefault();
      svg.focus({ preventScroll: true });
      const point = round(stage.toImage(event));
      const draftVertex = event.target.closest("[data-draft-vertex]");
      if (draft) {
        const near = Math.hypot(point[0] - draft[0][0], point[1] - draft[0][1]) <= stage.handleRadius() * 1.5;
        if ((draftVertex && draftVertex.dataset.draftVertex === "0") || (near && draft.length >= 3)) {
          closeDraft();
          return;
        }
        draft.push(point);
        render();
        return;
      }
      const vertex = event.target.closest("[data-vertex]");
      const shape = event.target.closest("g.shape[data-index]");
      if (vertex && shape) {
        selected = Number(shape.dataset.index);
        labels.set(polygons[selected].label);
        drag = { vertex: Number(vertex.dataset.vertex), before: snapshot(), pointerId: event.pointerId };
        svg.setPointerCapture(event.pointerId);
        render();
        return;
      }
      if (shape) {
        selected = Number(shape.dataset.index);
        labels.set(polygons[selected].label);
        render();
        return;
      }
      selected = -1;
      draft = [point];
      render();
    });

    svg.addEventListener("pointermove", (event) => {
      if (drag && event.pointerId === drag.pointerId) {
        const [x, y] = round(stage.toImage(event));
        polygons[selected].points[drag.vertex] = [clamp(x, 0, stage.width), clamp(y, 0, stage.height)];
        render();
      } else if (draft && event.pointerType === "mouse") {
        hover = round(stage.toImage(event));
        render();
      }
    });

    const finish = (event) => {
      if (!drag || event.pointerId !== drag.pointerId) return;
      const before = drag.before;
      drag = null;
      if (snapshot() !== before) history.record(before);
    };
    svg.addEventListener("pointerup", finish);
    svg.addEventListener("pointercancel", finish);
    svg.addEventListener("pointerleave", () => { if (hover) { hover = null; render(); } });
  }

  function onKey(event) {
    if (isUndo(event)) { undo(); return true; }
    if (isRedo(event)) { history.redo(); return true; }
    if (event.ctrlKey || event.metaKey) return false;
    const key = event.key;
    if (/^[1-9]$/.test(key)) return labels.pickKey(key);
    if (draft) {
      if (key === "Enter") { closeDraft(); return true; }  // never submits a half polygon
      if (key === "Escape") { draft = null; hover = null; say("Polygon dropped."); render(); return true; }
      if (key === "Backspace" || key === "Delete") { undo(); return true; }
    }
    if ((key === "Delete" || key === "Backspace") && selected >= 0) { removePolygon(selected); return true; }
    if (key === "Escape" && selected >= 0) { selected = -1; render(); return true; }
    if ((key === "n" || key === "N") && polygons.length) {
      const step = event.shiftKey ? -1 : 1;
      selected = ((selected < 0 ? (step > 0 ? -1 : 0) : selected) + step + polygons.length) % polygons.length;
      labels.set(polygons[selected].label);
      render();
      say(`Polygon ${selected + 1} of ${polygons.length} selected.`);
      return true;
    }
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (arrows[key] && selected >= 0) {
      const [dx, dy] = arrows[key].map((d) => d * (event.shiftKey ? 10 : 1));
      const before = snapshot();
      const points = polygons[selected].points;
      const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
      const mx = clamp(dx, -Math.min(...xs), stage.width - Math.max(...xs));
      const my = clamp(dy, -Math.min(...ys), stage.height - Math.max(...ys));
      polygons[selected].points = points.map(([x, y]) => [x + mx, y + my]);
      if (snapshot() !== before) history.record(before);
      return true;
    }
    return false;
  }

  function validate() {
    if (draft) return "Close the polygon you are drawing (click its first point or press Enter), or press Esc to drop it.";
    return polygons.length ? null : "Draw at least one polygon.";
  }

  render();
  return { onKey, validate, focus: () => svg && svg.focus({ preventScroll: true }) };
}
