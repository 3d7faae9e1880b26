// Results as you type on the directory search page: the form still works without this script.
(function () {
  "use strict";
  var form = document.querySelector("form.directory-search");
  var list = document.getElementById("resultats");
  if (!form || !list || !window.fetch) {
    return;
  }
  var timer = null;
  var latest = 0;

  function refresh() {
    var query = new URLSearchParams(new FormData(form)).toString();
    var ticket = ++latest;
    fetch(form.dataset.results + "?" + query, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        // An older answer arriving late must not replace a newer one.
        if (html !== null && ticket === latest) {
          list.innerHTML = html;
          history.replaceState(null, "", form.action + "?" + query);
        }
      })
      .catch(function () {});
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
