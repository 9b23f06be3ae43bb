/* A minimal stand-in for Amazon's crowd-html-elements inside an HTMLQuestion's frame (their
   loader is removed: it cannot load here and would post to MTurk). The common form elements
   become native controls; <crowd-form> submits one field, "taskAnswers", holding the JSON
   array of one object, as MTurk returned crowd-form answers:
     crowd-input / crowd-text-area name=N          -> N: "text"
     crowd-radio-button name=N value=V (in a group) -> N: {V: true|false}
     crowd-checkbox name=N value=V                  -> N: {V: true|false}   (V defaults to "on")
     crowd-slider name=N                            -> N: number
     crowd-classifier name=N categories=[...]       -> N: {"label": "chosen"}
     native inputs with a name inside the form      -> N: "value"
   answer-format="flatten-objects" on crowd-form flattens to "N.V" keys. Elements this shim
   does not know (bounding boxes, segmentation, ...) are marked as unsupported in the page. */
(function () {
  "use strict";
  var made = 0;

  function attr(el, name, fallback) {
    var value = el.getAttribute(name);
    return value === null ? fallback : value;
  }

  function control(tag, props) {
    var el = document.createElement(tag);
    Object.keys(props).forEach(function (key) {
      if (props[key] !== null && props[key] !== undefined && props[key] !== false) el.setAttribute(key, props[key]);
    });
    return el;
  }

  function labelled(host, text, input) {
    var label = document.createElement("label");
    label.style.display = "block";
    if (text) { label.appendChild(document.createTextNode(text)); label.appendChild(document.createElement("br")); }
    label.appendChild(input);
    host.appendChild(label);
  }

  function textInputs(root) {
    root.querySelectorAll("crowd-input, crowd-text-area").forEach(function (host) {
      if (host._control) return;
      var area = host.tagName === "CROWD-TEXT-AREA";
      var input = control(area ? "textarea" : "input", {
        type: area ? null : attr(host, "type", "text"),
        placeholder: attr(host, "placeholder", null),
        required: host.hasAttribute("required") ? "required" : null,
        maxlength: attr(host, "max-length", null),
        rows: area ? attr(host, "rows", "3") : null,
        "data-crowd": "1"
      });
      input.value = attr(host, "value", "");
      host._control = input;
      labelled(host, attr(host, "label", ""), input);
    });
  }

  function toggles(root) {
    root.querySelectorAll("crowd-radio-button, crowd-checkbox").forEach(function (host) {
      if (host._control) return;
      var radio = host.tagName === "CROWD-RADIO-BUTTON";
      var group = host.closest("crowd-radio-group");
      if (radio && group && !group._name) group._name = "crowd-radio-" + (made++);
      var input = control("input", {
        type: radio ? "radio" : "checkbox",
        name: radio ? (group ? group._name : "crowd-radio-" + (made++)) : null,
        required: host.hasAttribute("required") ? "required" : null,
        "data-crowd": "1"
      });
      input.checked = host.hasAttribute("checked");
      host._control = input;
      var label = document.createElement("label");
      label.appendChild(input);
      while (host.firstChild) label.appendChild(host.firstChild);
      host.appendChild(label);
    });
  }

  function sliders(root) {
    root.querySelectorAll("crowd-slider").forEach(function (host) {
      if (host._control) return;
      var input = control("input", {
        type: "range", min: attr(host, "min", "0"), max: attr(host, "max", "100"),
        step: attr(host, "step", "1"), "data-crowd": "1"
      });
      input.value = attr(host, "value", attr(host, "min", "0"));
      host._control = input;
      labelled(host, attr(host, "label", ""), input);
    });
  }

  function classifiers(root) {
    root.querySelectorAll("crowd-classifier").forEach(function (host) {
      if (host._choices) return;
      var categories = [];
      try { categories = JSON.parse(attr(host, "categories", "[]")); } catch (e) { categories = []; }
      var box = document.createElement("fieldset");
      var legend = document.createElement("legend");
      legend.textContent = attr(host, "header", "");
      box.appendChild(legend);
      var name = "crowd-classifier-" + (made++);
      host._choices = categories.map(function (category) {
        var input = control("input", { type: "radio", name: name, value: String(category), required: "required", "data-crowd": "1" });
        var label = document.createElement("label");
        label.style.display = "block";
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + category));
        box.appendChild(label);
        return input;
      });
      host.insertBefore(box, host.firstChild);
    });
  }

  function instructions(root) {
    root.querySelectorAll("crowd-instructions").forEach(function (host) {
      if (host._done) return;
      host._done = true;
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = attr(host, "link-text", "Instructions");
      details.appendChild(summary);
      while (host.firstChild) details.appendChild(host.firstChild);
      host.appendChild(details);
    });
  }

  var KNOWN = /^CROWD-(FORM|INPUT|TEXT-AREA|RADIO-GROUP|RADIO-BUTTON|CHECKBOX|SLIDER|CLASSIFIER|BUTTON|INSTRUCTIONS|ALERT|CARD|BADGE|ICON-BUTTON|TOAST|TOOLTIP|FAB)$/;

  function unsupported(root) {
    root.querySelectorAll("*").forEach(function (el) {
      if (el.tagName.indexOf("CROWD-") === 0 && !KNOWN.test(el.tagName) && !el._flagged) {
        el._flagged = true;
        var note = document.createElement("p");
        note.setAttribute("role", "alert");
        note.textContent = "<" + el.tagName.toLowerCase() + "> is not supported on crowdmarket.";
        el.parentNode.insertBefore(note, el);
      }
    });
  }

  function answerOf(form) {
    var out = {};
    form.querySelectorAll("crowd-input[name], crowd-text-area[name]").forEach(function (host) {
      out[host.getAttribute("name")] = host._control ? host._control.value : "";
    });
    form.querySelectorAll("crowd-radio-button[name], crowd-checkbox[name]").forEach(function (host) {
      var name = host.getAttribute("name");
      var entry = out[name] && typeof out[name] === "object" ? out[name] : {};
      entry[attr(host, "value", "on")] = !!(host._control && host._control.checked);
      out[name] = entry;
    });
    form.querySelectorAll("crowd-slider[name]").forEach(function (host) {
      out[host.getAttribute("name")] = host._control ? Number(host._control.value) : null;
    });
    form.querySelectorAll("crowd-classifier[name]").forEach(function (host) {
      var chosen = (host._choices || []).filter(function (input) { return input.checked; })[0];
      out[host.getAttribute("name")] = { label: chosen ? chosen.value : null };
    });
    form.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (el) {
      if (el.dataset.crowd || el.name === "assignmentId") return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      out[el.name] = el.value;
    });
    return out;
  }

  function flatten(value, prefix, into) {
    Object.keys(value).forEach(function (key) {
      var item = value[key], path = prefix ? prefix + "." + key : key;
      if (item && typeof item === "object" && !Array.isArray(item)) flatten(item, path, into);
      else into[path] = item;
    });
    return into;
  }

  function forms(root) {
    root.querySelectorAll("crowd-form").forEach(function (host) {
      if (host._form) return;
      var form = document.createElement("form");
      while (host.firstChild) form.appendChild(host.firstChild);
      host.appendChild(form);
      host._form = form;
      var submits = form.querySelectorAll('crowd-button[form-action="submit"]');
      submits.forEach(function (button) {
        var native = control("button", { type: "submit" });
        while (button.firstChild) native.appendChild(button.firstChild);
        button.appendChild(native);
      });
      if (!submits.length) {
        var button = control("button", { type: "submit" });
        button.textContent = "Submit";
        form.appendChild(button);
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        event.stopPropagation();  // the bridge's generic form handler must not send it again
        var answer = answerOf(form);
        if (host.getAttribute("answer-format") === "flatten-objects") answer = flatten(answer, "", {});
        window.crowdmarketHitSend({ taskAnswers: JSON.stringify([answer]) });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.body;
    unsupported(root);
    instructions(root);
    textInputs(root);
    toggles(root);
    sliders(root);
    classifiers(root);
    forms(root);
  });
})();
