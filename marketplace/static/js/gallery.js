/* Template gallery of the create form: a template fills the title (when still empty or a
   template's), instructions, question type and its fields, then asks the live preview (htmx)
   for the worker's page. Progressive enhancement: without it the form is filled by hand. */
(function () {
  "use strict";

  var form = document.getElementById("bundle-form");
  var data = document.getElementById("bundle-templates");
  if (!form || !data) return;
  var templates = JSON.parse(data.textContent);
  var field = function (name) { return form.querySelector("[name=" + name + "]"); };
  var filledTitle = null;

  var set = function (name, value) {
    var el = field(name);
    if (!el) return;
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  };

  var apply = function (t) {
    var title = field("title");
    if (title && (!title.value || title.value === filledTitle)) {
      set("title", t.title);
      filledTitle = t.title;
    }
    set("instructions", t.instructions);
    var q = t.question;
    set("prompt", q.prompt || "");
    var plain = ["single_choice", "multiple_choice", "text", "number", "rating"].indexOf(q.type) >= 0;
    if (q.choices && plain) {
      set("choices", q.choices.map(function (c) { return c.value + " | " + c.label; }).join("\n"));
    }
    var json = Object.assign({}, q);
    delete json.prompt;
    set("question_json", plain ? "" : JSON.stringify(json, null, 2));
    field("template").value = t.slug;
    var type = field("question_type");
    var changed = type.value !== q.type;
    type.value = q.type;
    // A changed type shows its fields and refreshes the preview (one request, not two).
    type.dispatchEvent(new Event("change", { bubbles: true }));
    var buttons = document.querySelectorAll("[data-template]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", buttons[i].dataset.template === t.slug ? "true" : "false");
    }
    var preview = document.getElementById("task-preview");
    if (preview && window.htmx && !changed) window.htmx.trigger(preview, "refresh");
  };

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-template]");
    if (!button) return;
    var chosen = templates.filter(function (t) { return t.slug === button.dataset.template; })[0];
    if (chosen) apply(chosen);
  });
})();
