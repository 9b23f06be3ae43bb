/* Task page of MTurk HITs: takes the answer the HIT's frame sends and submits it with the task
   form; after an ExternalQuestion's externalSubmit, moves on to the next task. The frame is
   checked by identity (event.source), the HTMLQuestion's origin is opaque ("null") by its
   sandbox, and the "submitted" page of an external frame is ours (same origin). */
(function () {
  "use strict";

  function frame() { return document.querySelector("#task-panel iframe[data-hit-frame]"); }

  function send(form) {
    if (window.htmx) window.htmx.process(form);
    form.requestSubmit();
  }

  window.addEventListener("message", function (event) {
    var hit = frame();
    if (!hit || event.source !== hit.contentWindow) return;
    var data = event.data || {};
    if (data.type === "crowdmarket:hit-answer" && hit.dataset.hitFrame === "html" && event.origin === "null") {
      var form = document.getElementById("task-form");
      var field = form && form.querySelector("input[name=answer_json]");
      if (!field || typeof data.answer !== "object" || data.answer === null) return;
      field.value = JSON.stringify(data.answer);
      send(form);
    } else if (data.type === "crowdmarket:hit-submitted" && event.origin === window.location.origin) {
      var next = document.getElementById("hit-next");
      if (next) send(next);
    }
  });
})();
