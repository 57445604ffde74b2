// Lotse web: the little JavaScript there is. Every page works without it; with it, htmx updates parts of a
// page (search filters, list filters) and this file keeps that accessible and honest.
"use strict";

// A part of a page that came back with an error message: move the focus to the error summary, as a whole
// page would be read from the top.
document.addEventListener("htmx:afterSwap", function () {
  var summary = document.querySelector(".lotse-error-summary");
  if (summary) {
    summary.focus();
  }
});

// The service failed (5xx) or did not answer: load the whole page, which explains it in German.
function wholePage(event) {
  var path = event.detail && event.detail.pathInfo && event.detail.pathInfo.finalRequestPath;
  window.location.assign(path || window.location.href);
}
document.addEventListener("htmx:responseError", wholePage);
document.addEventListener("htmx:sendError", wholePage);
