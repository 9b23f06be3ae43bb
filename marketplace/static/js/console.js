/* Requester console: the live cost estimate of the bundle form, question-type fields, and
   "select all" in the review queue. Progressive enhancement only: forms work without it. */
(function () {
  "use strict";

  var form = document.getElementById("bundle-form");
  if (form) {
    var percent = parseInt(form.dataset.feePercent, 10) || 0;
    var minimum = parseInt(form.dataset.feeMinimum, 10) || 0;
    var type = form.querySelector("[name=question_type]");
    var reward = form.querySelector("[name=reward]");
    var overlap = form.querySelector("[name=overlap]");
    var out = form.querySelector("[data-estimate]");

    var showTypeFields = function () {
      var blocks = form.querySelectorAll("[data-for-types]");
      for (var i = 0; i < blocks.length; i++) {
        var wanted = blocks[i].dataset.forTypes.split(" ");
        blocks[i].hidden = wanted.indexOf(type.value) < 0;
      }
    };
    // Integer minor units, like the server: fee = max((reward x percent + 50) // 100, minimum).
    var estimate = function () {
      var match = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(reward.value || "");
      var n = parseInt(overlap.value, 10);
      if (!match || !(n > 0)) { out.textContent = ""; return; }
      var minor = parseInt(match[1], 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
      var fee = minor > 0 ? Math.max(Math.floor((minor * percent + 50) / 100), minimum) : 0;
      var fmt = function (m) { return (Math.floor(m / 100)) + "." + ("0" + (m % 100)).slice(-2); };
      var rate = minor > 0 ? " = " + (Math.round(fee * 1000 / minor) / 10) + "% of the reward" : "";
      out.textContent = "Each answer costs " + fmt(minor + fee) + " (" + fmt(minor) + " reward + " +
        fmt(fee) + " fee" + rate + "); each item with overlap " + n + " costs " +
        fmt((minor + fee) * n) + ", so 100 items cost " + fmt((minor + fee) * n * 100) + ".";
    };
    type.addEventListener("change", showTypeFields);
    reward.addEventListener("input", estimate);
    overlap.addEventListener("input", estimate);
    showTypeFields();
    estimate();
  }

  var all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", function () {
      var boxes = document.querySelectorAll("#review-form input[name=ids]");
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
    });
  }
})();
