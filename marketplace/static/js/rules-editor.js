/* Create form: the quality rules as rows (what to measure, when it fires, after how many
   answers, what to do) instead of JSON. Progressive enhancement: the JSON textarea stays the
   field that is posted, rewritten on every change; without JavaScript it is edited directly,
   and "Edit as JSON" shows it again here. No inline handlers (CSP). */
(function () {
  "use strict";

  var wrap = document.querySelector("[data-rules-editor-for]");
  var source = document.getElementById("quality-rule-options");
  if (!wrap || !source) return;
  var textarea = document.getElementById(wrap.dataset.rulesEditorFor);
  var host = wrap.querySelector("[data-rules-editor]");
  var field = textarea.closest(".field");
  var options = JSON.parse(source.textContent);
  var collectors = {}, actions = {};
  options.collectors.forEach(function (c) { collectors[c.value] = c; });
  options.actions.forEach(function (a) { actions[a.value] = a; });
  var PARAMS = {
    weight: { label: "weight (0 to 0.99)", type: "number", step: "0.05", min: "0", max: "0.99", value: 0.3 },
    recent: { label: "latest answers to reject", type: "number", step: "1", min: "1", max: "1000", value: 50 },
    qualification: { label: "qualification name", type: "text", value: "" }
  };
  var rules = [];

  function parse() {
    var text = textarea.value.trim();
    if (!text) return [];
    try {
      var parsed = JSON.parse(text);
      return Array.isArray(parsed) ? parsed : null;
    } catch (e) {
      return null;
    }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) node.textContent = text;
    return node;
  }

  function write() { textarea.value = rules.length ? JSON.stringify(rules) : ""; }

  function labelled(text, control) {
    var label = el("label", { "class": "rule-part" });
    label.appendChild(el("span", {}, text));
    label.appendChild(control);
    return label;
  }

  function select(name, list, current) {
    var node = el("select", { name: name });
    list.forEach(function (o) {
      var option = el("option", { value: o.value }, o.label);
      if (o.value === current) option.selected = true;
      node.appendChild(option);
    });
    return node;
  }

  function row(rule, index) {
    var n = index + 1;
    var item = el("li", { "class": "rule-row", "data-rule-row": String(n) });
    var collector = collectors[rule.collector] || options.collectors[0];
    var measure = select("rule-collector", options.collectors, collector.value);
    measure.setAttribute("aria-label", "Rule " + n + " measure");
    measure.addEventListener("change", function () {
      var chosen = collectors[measure.value];
      rule.collector = chosen.value;
      rule.threshold = chosen.threshold;
      rule.min_answers = chosen.min_answers;
      if (chosen.value !== "answer_speed") delete rule.floor;
      changed(n, "measure");
    });
    item.appendChild(labelled("Rule " + n + ": measure", measure));

    var threshold = el("input", { type: "number", min: "0", max: "100", step: "1", inputmode: "numeric" });
    threshold.value = String(Math.round((rule.threshold === undefined ? collector.threshold : rule.threshold) * 100));
    threshold.setAttribute("aria-label", "Rule " + n + " threshold (%)");
    threshold.addEventListener("input", function () {
      var value = parseFloat(threshold.value);
      if (!isNaN(value)) { rule.threshold = Math.round(value * 100) / 10000; write(); }
    });
    item.appendChild(labelled("fires " + collector.fires + " (%)", threshold));

    var least = el("input", { type: "number", min: "1", max: "1000", step: "1", inputmode: "numeric" });
    least.value = String(rule.min_answers === undefined ? collector.min_answers : rule.min_answers);
    least.setAttribute("aria-label", "Rule " + n + " minimum answers");
    least.addEventListener("input", function () {
      var value = parseInt(least.value, 10);
      if (!isNaN(value)) { rule.min_answers = value; write(); }
    });
    item.appendChild(labelled("after at least (answers)", least));

    var action = select("rule-action", options.actions, rule.action || "block");
    action.setAttribute("aria-label", "Rule " + n + " action");
    action.addEventListener("change", function () {
      Object.keys(PARAMS).forEach(function (key) { delete rule[key]; });
      delete rule.value;
      rule.action = action.value;
      var param = actions[action.value].parameter;
      if (param) rule[param] = PARAMS[param].value;
      changed(n, "action");
    });
    item.appendChild(labelled("then", action));

    var param = (actions[rule.action || "block"] || {}).parameter;
    if (param) {
      var spec = PARAMS[param];
      var input = el("input", { type: spec.type });
      ["step", "min", "max"].forEach(function (key) { if (spec[key]) input.setAttribute(key, spec[key]); });
      input.value = String(rule[param] === undefined ? spec.value : rule[param]);
      input.setAttribute("aria-label", "Rule " + n + " " + spec.label);
      input.addEventListener("input", function () {
        var value = spec.type === "number" ? parseFloat(input.value) : input.value.trim();
        if (spec.type !== "number" || !isNaN(value)) { rule[param] = value; write(); }
      });
      item.appendChild(labelled(spec.label, input));
    }

    var remove = el("button", { type: "button", "class": "secondary" }, "Remove");
    remove.setAttribute("aria-label", "Remove rule " + n);
    remove.addEventListener("click", function () {
      rules.splice(index, 1);
      changed(Math.min(n, rules.length), "measure");
    });
    item.appendChild(remove);
    return item;
  }

  function render() {
    host.textContent = "";
    host.appendChild(el("p", { "class": "help" },
      "Each rule measures every worker's answers here and acts when its figure crosses the " +
      "threshold; every action is logged with its figures and can be reversed."));
    var list = el("ol", { "class": "rules-list" });
    rules.forEach(function (rule, index) { list.appendChild(row(rule, index)); });
    host.appendChild(list);
    var add = el("button", { type: "button", "class": "secondary", "data-add-rule": "" }, "Add a rule");
    add.addEventListener("click", function () {
      var first = collectors.answer_speed || options.collectors[0];
      rules.push({ collector: first.value, threshold: first.threshold,
                   min_answers: first.min_answers, action: "block" });
      changed(rules.length, "measure");
    });
    host.appendChild(add);
    var toggle = el("button", { type: "button", "class": "link", "aria-expanded": "false" }, "Edit as JSON");
    toggle.addEventListener("click", function () {
      field.hidden = !field.hidden;
      toggle.setAttribute("aria-expanded", field.hidden ? "false" : "true");
    });
    host.appendChild(toggle);
  }

  function changed(n, part) {
    write();
    render();
    var focus = host.querySelector('[data-rule-row="' + n + '"] [aria-label="Rule ' + n + " " + part + '"]');
    if (focus) focus.focus();
  }

  var initial = parse();
  if (initial === null) return; // JSON someone typed by hand and got wrong: the error shows there
  rules = initial;
  textarea.addEventListener("input", function () {
    var typed = parse();
    if (typed !== null) { rules = typed; render(); }
  });
  host.hidden = false;
  field.hidden = !field.classList.contains("has-error"); // a refused rule shows its message
  render();
})();
