/* Runs first inside an HTMLQuestion's sandboxed frame. A HIT's form was written to post to
   MTurk's externalSubmit; here its submission becomes a message to the task page (which
   submits it as the worker's answer): every field but assignmentId, a list where a name
   repeats. form.submit() from the HIT's own scripts goes the same way. In a preview
   (assignmentId ASSIGNMENT_ID_NOT_AVAILABLE) nothing is sent. */
(function () {
  "use strict";
  var script = document.currentScript;
  var parentOrigin = script.getAttribute("data-parent-origin");
  var preview = script.getAttribute("data-preview") === "1";
  var params = new URLSearchParams(window.location.search);
  var sent = false;

  function notice(text) {
    var box = document.getElementById("crowdmarket-notice");
    if (!box) {
      box = document.createElement("div");
      box.id = "crowdmarket-notice";
      box.setAttribute("role", "status");
      box.style.cssText = "position:sticky;top:0;z-index:2147483647;padding:6px 10px;" +
        "background:#fff4d6;border:1px solid #d9b24c;font:14px sans-serif;color:#222";
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.textContent = text;
  }

  function fieldsOf(form) {
    var answer = {};
    new FormData(form).forEach(function (value, name) {
      if (name === "assignmentId" || typeof value !== "string") return;
      if (Object.prototype.hasOwnProperty.call(answer, name)) {
        answer[name] = [].concat(answer[name], value);
      } else {
        answer[name] = value;
      }
    });
    return answer;
  }

  function send(answer) {
    if (preview) { notice("This is a preview: accept the task to submit."); return; }
    if (sent) return;
    sent = true;
    window.parent.postMessage({ type: "crowdmarket:hit-answer", answer: answer }, parentOrigin);
    notice("Submitting your answer…");
  }
  window.crowdmarketHitSend = send; // crowd-shim.js sends crowd-form answers here

  // Last in line (bubbling to window): the HIT's own submit handlers run first, and one that
  // prevents the submission (its own validation) stops it here too.
  window.addEventListener("submit", function (event) {
    if (event.defaultPrevented) return;
    event.preventDefault();
    send(fieldsOf(event.target));
  });
  HTMLFormElement.prototype.submit = function () { send(fieldsOf(this)); };

  document.addEventListener("DOMContentLoaded", function () {
    var hidden = document.querySelectorAll("input[name=assignmentId]");
    for (var i = 0; i < hidden.length; i++) {
      if (!hidden[i].value) hidden[i].value = params.get("assignmentId") || "";
    }
    if (preview) notice("Preview: accept the task to work on it.");
  });
})();
