/* The page an externalSubmit lands on, inside the HIT's frame: tell the task page (our own
   origin) that the answer is in, so it moves on to the next task. */
(function () {
  "use strict";
  if (window.parent && window.parent !== window) {
    window.parent.postMessage({ type: "crowdmarket:hit-submitted" }, window.location.origin);
  }
})();
