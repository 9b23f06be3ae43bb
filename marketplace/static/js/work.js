/* Task page: keyboard shortcuts and the deadline countdown. No build step, no dependencies;
   htmx swaps the task panel, so everything here looks the panel up again on each use. */
(function () {
  "use strict";

  function panel() { return document.getElementById("task-panel"); }

  // A fast typist can press Enter within htmx's settle delay after a swap, before htmx has
  // wired up the new form; process it first so the answer still goes by htmx, not a reload.
  function submit(form, button) {
    if (window.htmx) window.htmx.process(form);
    if (button) button.click(); else form.requestSubmit();
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) return true;
    return tag === "INPUT" && !/^(radio|checkbox|button|submit)$/i.test(target.type);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var root = panel();
    if (!root) return;
    var form = root.querySelector("#task-form");
    var inField = typing(event.target);
    if (/^[1-9]$/.test(event.key) && !inField && form) {
      var option = form.querySelector('input[data-key="' + event.key + '"]');
      if (option) {
        event.preventDefault();
        option.checked = option.type === "checkbox" ? !option.checked : true;
        option.focus();
      }
    } else if ((event.key === "s" || event.key === "S") && !inField && form) {
      var skip = form.querySelector("[data-skip]");
      if (skip) { event.preventDefault(); submit(form, skip); }
    } else if (event.key === "Enter" && form && !inField) {
      if (form.hasAttribute("data-hit-frame-form")) return; // the HIT's frame submits itself
      var tag = event.target.tagName;
      if (tag === "BUTTON" || tag === "A" || tag === "SUMMARY") return; // their own Enter
      event.preventDefault();
      submit(form);
    } else if (event.key === "Enter" && !form && !inField) {
      var start = root.querySelector("button[type=submit]");
      if (start && event.target.tagName !== "BUTTON" && event.target.tagName !== "A") {
        event.preventDefault();
        submit(start.form, start);
      }
    }
  });

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var clocks = document.querySelectorAll(".countdown[data-deadline]");
    for (var i = 0; i < clocks.length; i++) {
      var clock = clocks[i];
      var left = Math.max(0, Math.floor((Date.parse(clock.dataset.deadline) - Date.now()) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      clock.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s);
      clock.classList.toggle("urgent", left <= 30);
      if (left === 0 && !clock.dataset.expired) {
        clock.dataset.expired = "1";
        clock.textContent = "time is up";
        var form = document.getElementById("task-form");
        if (form) {
          var buttons = form.querySelectorAll("button[type=submit]:not([data-skip])");
          for (var j = 0; j < buttons.length; j++) buttons[j].disabled = true;
        }
      }
    }
  }

  // After each swap: keep keyboard focus in the panel, and restart the clock at once.
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = panel();
    if (!root) return;
    var input = root.querySelector("#answer-input");
    (input || root).focus({ preventScroll: false });
    tick();
  });

  // Text answers: how the answer was produced (pastes, typed characters, time from the first
  // keystroke to the last), sent with the answer in the form's hidden `signals` field. The
  // state lives on that field, so each new task (a new panel) starts from zero.
  function signalsField(target) {
    if (!target || target.id !== "answer-input" || !target.form) return null;
    return target.form.querySelector("input[data-signals]");
  }

  function record(field, change) {
    var s = field.value ? JSON.parse(field.value) : {
      paste_events: 0, pasted_chars: 0, typed_chars: 0, typing_seconds: 0
    };
    var now = Date.now() / 1000;
    change(s);
    if (field.dataset.first === undefined) field.dataset.first = String(now);
    s.typing_seconds = Math.round((now - Number(field.dataset.first)) * 1000) / 1000;
    field.value = JSON.stringify(s);
  }

  document.addEventListener("paste", function (event) {
    var field = signalsField(event.target);
    if (!field) return;
    var text = event.clipboardData ? event.clipboardData.getData("text") : "";
    record(field, function (s) { s.paste_events += 1; s.pasted_chars += text.length; });
  });

  document.addEventListener("input", function (event) {
    var field = signalsField(event.target);
    if (!field || !event.inputType || event.inputType.indexOf("insertFromPaste") === 0) return;
    var typed = event.inputType === "insertText" && event.data ? event.data.length : 0;
    record(field, function (s) { s.typed_chars += typed; });
  });

  tick();
  setInterval(tick, 1000);
  var input = document.getElementById("answer-input");
  if (input) input.focus();
})();
