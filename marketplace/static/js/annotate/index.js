/* Annotation tools on the task page and in the create form's live preview. Each [data-anno]
   element carries its tool's data as JSON; this module mounts the tool (again after each htmx
   swap), routes keys to it before js/work.js sees them (capture phase), and refuses to submit
   an answer the tool knows is incomplete. No build step, no inline handlers (CSP). */
import { mountBoxes } from "./boxes.js";
import { mountPolygons } from "./polygons.js";
import { mountSpans } from "./spans.js";
import { mountClassification, mountPairwise, mountTranscription } from "./media.js";

const MOUNT = {
  bounding_box: mountBoxes,
  polygon: mountPolygons,
  text_spans: mountSpans,
  image_classification: mountClassification,
  transcription: mountTranscription,
  pairwise: mountPairwise,
};

const tools = [];

function typing(el) {
  if (!el || !el.tagName) return false;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable) return true;
  return tag === "INPUT" && !/^(radio|checkbox|button|submit)$/i.test(el.type);
}

function statusOf(root) {
  let el = root.querySelector("[data-status]");
  if (!el) {
    el = document.createElement("p");
    el.className = "anno-status";
    el.dataset.status = "";
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    root.appendChild(el);
  }
  return el;
}

function mount(root) {
  if (root.dataset.annoReady) return;
  root.dataset.annoReady = "1";
  const data = root.querySelector('script[type="application/json"]');
  if (!data) return;
  const config = JSON.parse(data.textContent);
  const make = MOUNT[config.type];
  if (!make) return;
  // In the preview, the tool's controls belong to the preview's own (empty) form, never to
  // the bundle form around it, so nothing of the preview is posted with the bundle.
  const preview = root.closest("[data-preview]");
  let form = root.closest("form");
  if (preview && preview.dataset.previewForm) {
    form = document.getElementById(preview.dataset.previewForm);
    preview.querySelectorAll("input, select, textarea, button").forEach((el) => {
      el.setAttribute("form", preview.dataset.previewForm);
    });
  }
  const api = make(root, config);
  if (!api) return;
  const entry = { root, api, config, form, preview, onTaskPage: !!root.closest("#task-panel") };
  tools.push(entry);
  if (entry.onTaskPage && api.focus) setTimeout(() => api.focus(), 0);
}

function mountAll(scope) {
  (scope || document).querySelectorAll("[data-anno]").forEach(mount);
  for (let i = tools.length - 1; i >= 0; i--) if (!tools[i].root.isConnected) tools.splice(i, 1);
}

function activeTool(target) {
  const live = tools.filter((t) => t.root.isConnected);
  return live.find((t) => t.root.contains(target)) || live.find((t) => t.onTaskPage) || null;
}

window.addEventListener("keydown", (event) => {
  if (event.defaultPrevented) return;
  const entry = activeTool(event.target);
  if (!entry) return;
  if (!entry.onTaskPage && !entry.root.contains(event.target)) return;
  if (typing(event.target) && !entry.api.typingOk) return;
  const focused = entry.root.contains(document.activeElement) &&
    (!entry.api.textBox || entry.api.textBox === document.activeElement);
  if (entry.api.onKey && entry.api.onKey(event, focused)) {
    event.preventDefault();
    event.stopPropagation();
  }
}, true);

function previewAnswer(entry) {
  const hidden = entry.root.querySelector("[data-answer]");
  if (hidden) return hidden.value;
  const data = new FormData(entry.form);
  if (entry.config.type === "pairwise") {
    const answer = { choice: data.get("choice") };
    if (data.get("reason")) answer.reason = data.get("reason");
    return JSON.stringify(answer);
  }
  const values = data.getAll("answer");
  return JSON.stringify(entry.config.type === "image_classification" && values.length > 1 ? values : values[0]);
}

// Capture phase: runs before htmx's own submit handler on the form, so an incomplete answer
// is never sent. Skipping is always allowed.
document.addEventListener("submit", (event) => {
  const entry = tools.find((t) => t.root.isConnected && t.form === event.target);
  if (!entry) return;
  if (event.submitter && event.submitter.hasAttribute("data-skip")) return;
  const problem = entry.api.validate ? entry.api.validate() : null;
  if (entry.preview) {
    event.preventDefault();
    event.stopImmediatePropagation();
    const out = entry.preview.querySelector("[data-preview-answer]");
    if (out) out.textContent = problem ? "" : previewAnswer(entry);
  }
  if (problem) {
    event.preventDefault();
    event.stopImmediatePropagation();
    const status = statusOf(entry.root);
    status.textContent = problem;
    status.className = "anno-status error";
  }
}, true);

document.addEventListener("htmx:load", (event) => mountAll(event.target.parentNode || document));
document.addEventListener("htmx:afterSettle", () => mountAll(document));
mountAll(document);
