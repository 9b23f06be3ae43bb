/* Review queue keyboard shortcuts: j/k (or Down/Up) move the focus between answers, x selects
   the focused answer, a approves the selected answers (or the focused one when none is
   selected), r jumps to the reject reason, Escape leaves the reason field. Progressive
   enhancement only: without it the checkboxes and buttons do the same. */
(function () {
  "use strict";

  var form = document.getElementById("review-form");
  if (!form) return;
  var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-review-row]"));
  if (!rows.length) return;
  var reason = form.querySelector("[name=reason]");
  var approve = form.querySelector("button[name=action][value=approve]");
  var legend = document.getElementById("review-keys");
  if (legend) legend.hidden = false;
  var current = -1;

  var boxOf = function (row) { return row.querySelector("input[name=ids]"); };

  var focusRow = function (index) {
    if (index < 0) index = 0;
    if (index >= rows.length) index = rows.length - 1;
    if (current >= 0 && rows[current]) rows[current].classList.remove("kb-focus");
    current = index;
    var row = rows[current];
    row.classList.add("kb-focus");
    boxOf(row).focus();
    row.scrollIntoView({ block: "nearest" });
  };

  // Clicking or tabbing into a row makes it the focused one, so the keys continue from there.
  rows.forEach(function (row, index) {
    row.addEventListener("focusin", function () {
      if (current !== index) {
        if (current >= 0 && rows[current]) rows[current].classList.remove("kb-focus");
        current = index;
        row.classList.add("kb-focus");
      }
    });
  });

  var typing = function (el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    return tag === "input" && !/^(checkbox|radio|button|submit|reset)$/i.test(el.type);
  };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (typing(event.target)) {
      if (event.key === "Escape" && event.target === reason) {
        event.preventDefault();
        focusRow(current < 0 ? 0 : current);
      }
      return;
    }
    var key = event.key;
    if (key === "j" || key === "ArrowDown") {
      event.preventDefault();
      focusRow(current + 1);
    } else if (key === "k" || key === "ArrowUp") {
      event.preventDefault();
      focusRow(current < 0 ? 0 : current - 1);
    } else if (key === "x") {
      event.preventDefault();
      if (current < 0) focusRow(0);
      var box = boxOf(rows[current]);
      box.checked = !box.checked;
    } else if (key === "a") {
      event.preventDefault();
      var anyChecked = rows.some(function (row) { return boxOf(row).checked; });
      if (!anyChecked) {
        if (current < 0) return;  // nothing selected, nothing focused: nothing to approve
        boxOf(rows[current]).checked = true;
      }
      if (form.requestSubmit) form.requestSubmit(approve); else approve.click();
    } else if (key === "r" && reason) {
      event.preventDefault();
      reason.focus();
    }
  });
})();
