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

// An upload (the directory's import): how much of the file is sent, then that the directory is at work.
document.addEventListener("htmx:xhr:progress", function (event) {
  var form = event.target.closest ? event.target.closest("form") : null;
  var box = form && form.querySelector(".lotse-upload");
  if (!box || !event.detail.lengthComputable) {
    return;
  }
  var bar = box.querySelector("progress");
  var text = box.querySelector("[role=status]");
  box.hidden = false;
  if (event.detail.loaded < event.detail.total) {
    bar.value = Math.round((100 * event.detail.loaded) / event.detail.total);
    text.textContent = bar.value + " % hochgeladen";
  } else {
    bar.removeAttribute("value"); // the file is there: the directory checks and takes it over
    text.textContent = "Hochgeladen. Das Verzeichnis prüft und übernimmt die Datei …";
  }
});
