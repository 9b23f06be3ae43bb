/* The tools that are mostly plain form fields: image classification (a zoomable, pannable
   image above the choices, which js/work.js picks with 1-9), transcription (an image or audio
   player above a text box) and pairwise preference (left/right/tie, with keys). */
import { clamp } from "./common.js";

const MAX_ZOOM = 8;

/** Zoom (buttons, +/-/0, wheel, pinch) and pan (drag, arrows) inside a fixed viewport. */
export function mountZoom(root) {
  const viewport = root.querySelector("[data-viewport]");
  const img = root.querySelector("[data-zoom-target]");
  if (!viewport || !img) return null;
  let scale = 1, tx = 0, ty = 0;
  const pointers = new Map();
  let pinch = null;

  function apply() {
    const w = viewport.clientWidth, h = viewport.clientHeight;
    const iw = img.offsetWidth * scale, ih = img.offsetHeight * scale;
    tx = iw <= w ? (w - iw) / 2 : clamp(tx, w - iw, 0);
    ty = ih <= h ? (h - ih) / 2 : clamp(ty, h - ih, 0);
    img.style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`;
    viewport.dataset.zoom = scale.toFixed(2);
    viewport.classList.toggle("zoomed", scale > 1.01);
  }

  function zoomAt(factor, cx, cy) {
    const next = clamp(scale * factor, 1, MAX_ZOOM);
    const x = cx === undefined ? viewport.clientWidth / 2 : cx;
    const y = cy === undefined ? viewport.clientHeight / 2 : cy;
    // keep the image point under (x, y) where it is
    tx = x - (x - tx) * (next / scale);
    ty = y - (y - ty) * (next / scale);
    scale = next;
    apply();
  }

  const fit = () => { scale = 1; tx = 0; ty = 0; apply(); };
  root.querySelector("[data-zoom-in]")?.addEventListener("click", () => zoomAt(1.5));
  root.querySelector("[data-zoom-out]")?.addEventListener("click", () => zoomAt(1 / 1.5));
  root.querySelector("[data-zoom-fit]")?.addEventListener("click", fit);

  viewport.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = viewport.getBoundingClientRect();
    zoomAt(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX - rect.left, event.clientY - rect.top);
  }, { passive: false });

  viewport.addEventListener("pointerdown", (event) => {
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    viewport.setPointerCapture(event.pointerId);
    if (pointers.size === 2) {
      const [a, b] = Array.from(pointers.values());
      pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y), scale };
    }
  });
  viewport.addEventListener("pointermove", (event) => {
    const last = pointers.get(event.pointerId);
    if (!last) return;
    const now = { x: event.clientX, y: event.clientY };
    pointers.set(event.pointerId, now);
    if (pinch && pointers.size === 2) {
      const [a, b] = Array.from(pointers.values());
      const rect = viewport.getBoundingClientRect();
      const factor = (pinch.scale * Math.hypot(a.x - b.x, a.y - b.y) / pinch.distance) / scale;
      zoomAt(factor, (a.x + b.x) / 2 - rect.left, (a.y + b.y) / 2 - rect.top);
    } else if (scale > 1) {
      tx += now.x - last.x;
      ty += now.y - last.y;
      apply();
    }
  });
  const release = (event) => {
    pointers.delete(event.pointerId);
    if (pointers.size < 2) pinch = null;
  };
  viewport.addEventListener("pointerup", release);
  viewport.addEventListener("pointercancel", release);
  img.addEventListener("load", apply);
  window.addEventListener("resize", apply);
  apply();

  function onKey(event, focused) {
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    const key = event.key;
    if (key === "+" || key === "=") { zoomAt(1.5); return true; }
    if (key === "-" || key === "_") { zoomAt(1 / 1.5); return true; }
    if (key === "0") { fit(); return true; }
    const pans = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
    if (focused && pans[key] && scale > 1) {
      tx += pans[key][0];
      ty += pans[key][1];
      apply();
      return true;
    }
    return false;
  }
  return { onKey, owns: (el) => viewport.contains(el) };
}

export function mountClassification(root) {
  const zoom = mountZoom(root);
  return {
    onKey: (event) => (zoom ? zoom.onKey(event, zoom.owns(document.activeElement)) : false),
    validate: () => {
      const picked = root.querySelector('input[name="answer"]:checked');
      return picked ? null : "Pick an option.";
    },
  };
}

export function mountTranscription(root) {
  const zoom = mountZoom(root);
  const audio = root.querySelector("audio");
  const text = root.querySelector("textarea[name=answer]");
  return {
    onKey(event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && text) {
        text.form?.requestSubmit();
        return true;
      }
      if (event.ctrlKey && event.key === " " && audio) {
        if (audio.paused) audio.play(); else audio.pause();
        return true;
      }
      if (event.target === text) return false;
      return zoom ? zoom.onKey(event, zoom.owns(document.activeElement)) : false;
    },
    typingOk: true,
    validate: () => (text && text.value.trim() ? null : "Type what you see or hear."),
  };
}

export function mountPairwise(root, config) {
  const pick = (value) => {
    const radio = root.querySelector(`input[name="choice"][value="${value}"]`);
    if (!radio) return false;
    radio.checked = true;
    radio.focus({ preventScroll: true });
    return true;
  };
  const reason = root.querySelector("textarea[name=reason]");
  return {
    onKey(event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return false;
      if (event.key === "ArrowLeft") return pick("left");
      if (event.key === "ArrowRight") return pick("right");
      if ((event.key === "t" || event.key === "T") && config.allow_tie) return pick("tie");
      return false;
    },
    validate() {
      if (!root.querySelector('input[name="choice"]:checked')) {
        return config.allow_tie ? "Pick the better one, or a tie." : "Pick the better one.";
      }
      if (config.reason === "required" && reason && !reason.value.trim()) return "Say briefly why.";
      return null;
    },
  };
}
