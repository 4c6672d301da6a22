// m3w report: paging and search over the sampled documents. Everything works from file://;
// without this script every document simply shows, one after the other.
(function () {
  "use strict";

  function setUpDocuments() {
    var list = document.getElementById("docs");
    if (!list) return;
    var docs = Array.prototype.slice.call(list.querySelectorAll("article.doc"));
    var size = parseInt(list.getAttribute("data-page-size"), 10) || 10;
    var search = document.getElementById("doc-search");
    var prev = document.getElementById("doc-prev");
    var next = document.getElementById("doc-next");
    var label = document.getElementById("doc-page");
    var count = document.getElementById("doc-count");
    var page = 0;
    var matching = docs;

    function render() {
      var pages = Math.max(1, Math.ceil(matching.length / size));
      page = Math.min(Math.max(page, 0), pages - 1);
      var shown = matching.slice(page * size, (page + 1) * size);
      docs.forEach(function (d) { d.hidden = true; });
      shown.forEach(function (d) { d.hidden = false; });
      label.textContent = "page " + (page + 1) + " of " + pages;
      count.textContent = matching.length + " of " + docs.length + " documents";
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      list.setAttribute("data-page", String(page + 1));
    }

    function filter() {
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      matching = docs.filter(function (d) {
        var text = d.getAttribute("data-search") || "";
        return words.every(function (w) { return text.indexOf(w) >= 0; });
      });
      page = 0;
      render();
    }

    prev.addEventListener("click", function () { page -= 1; render(); window.scrollTo(0, 0); });
    next.addEventListener("click", function () { page += 1; render(); window.scrollTo(0, 0); });
    search.addEventListener("input", filter);
    // A link to one document (documents.html#doc-KEY) opens the page that holds it.
    var target = window.location.hash.slice(1);
    var at = docs.findIndex(function (d) { return d.id === target; });
    if (at >= 0) page = Math.floor(at / size);
    render();
    if (at >= 0) docs[at].scrollIntoView();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpDocuments);
  } else {
    setUpDocuments();
  }
})();
