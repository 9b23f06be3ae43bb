/* Review overlays of images whose size the payload did not state: once the image has loaded,
   its own pixel size becomes the SVG's viewBox, so the shapes (in image pixels) line up. */
(function () {
  "use strict";
  var svgs = document.querySelectorAll("svg[data-fit-image]");
  Array.prototype.forEach.call(svgs, function (svg) {
    var img = svg.parentNode.querySelector("img");
    if (!img) return;
    var fit = function () {
      if (img.naturalWidth) svg.setAttribute("viewBox", "0 0 " + img.naturalWidth + " " + img.naturalHeight);
    };
    if (img.complete) fit(); else img.addEventListener("load", fit);
  });
})();
