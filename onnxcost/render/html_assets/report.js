// onnxcost's HTML pages: the node table (drawn from the JSON block #node-data: sorted, filtered, paged) and
// click-to-sort on the static tables of class "sortable". Every string from the model is escaped before it
// reaches the page.
(function () {
  "use strict";

  // Node table columns: the row field shown, the field sorted on (numbers sort largest first), the exact value.
  var COLUMNS = [
    {show: 0, sort: 0, numeric: true}, {show: 1, sort: 1}, {show: 2, sort: 2}, {show: 3, sort: 3},
    {show: 9, sort: 4, numeric: true, exact: 4}, {show: 10, sort: 5, numeric: true, exact: 5},
    {show: 11, sort: 6, numeric: true, exact: 6}, {show: 12, sort: 7, numeric: true, exact: 7},
    {show: 13, sort: 8, numeric: true, exact: 8}, {show: 14, sort: 4, numeric: true, bar: true}
  ];

  var exact = new Intl.NumberFormat("en-US");  // one formatter: toLocaleString per cell is slow past 10k rows

  var ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
  }

  function nodeTable(data) {
    var table = document.getElementById("node-table");
    var filter = document.getElementById("node-filter");
    var pageSize = document.getElementById("node-page-size");
    var previous = document.getElementById("node-prev");
    var next = document.getElementById("node-next");
    var status = document.getElementById("node-status");
    var state = {column: null, descending: false, page: 0};
    var view = data.rows.slice();
    var headers = [];

    var headRow = document.createElement("tr");
    data.columns.forEach(function (title, c) {
      var th = document.createElement("th");
      th.textContent = title;
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      th.dataset.column = String(c);
      if (COLUMNS[c].numeric) th.className = "num";
      th.addEventListener("click", function () { sortBy(c); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortBy(c); });
      headers.push(th);
      headRow.appendChild(th);
    });
    table.tHead.appendChild(headRow);

    function sortBy(c) {
      state.descending = state.column === c ? !state.descending : Boolean(COLUMNS[c].numeric);
      state.column = c;
      headers.forEach(function (th, k) {
        th.setAttribute("aria-sort", k !== c ? "none" : state.descending ? "descending" : "ascending");
      });
      state.page = 0;
      refresh();
    }

    function refresh() {
      var needle = filter.value.trim().toLowerCase();
      view = data.rows.filter(function (row) {
        return !needle || (row[1] + " " + row[2] + " " + row[3]).toLowerCase().indexOf(needle) >= 0;
      });
      if (state.column !== null) {
        var field = COLUMNS[state.column].sort, sign = state.descending ? -1 : 1;
        view.sort(function (a, b) {
          var x = a[field], y = b[field];
          var order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
          return order !== 0 ? sign * order : a[0] - b[0];
        });
      }
      draw();
    }

    function draw() {
      var size = Number(pageSize.value) || view.length || 1;
      var pages = Math.max(1, Math.ceil(view.length / size));
      state.page = Math.min(state.page, pages - 1);
      var first = state.page * size, rows = view.slice(first, first + size);
      // One string for the page of rows, every value escaped: the parser builds 10,000 rows far faster than
      // as many createElement calls.
      var html = [];
      rows.forEach(function (row) {
        html.push("<tr>");
        COLUMNS.forEach(function (column) {
          var text = escapeHtml(row[column.show]);
          html.push(column.numeric ? '<td class="num"' : "<td");
          if (column.exact !== undefined) html.push(' title="' + exact.format(row[column.exact]) + '"');
          html.push(">");
          if (column.bar) html.push('<span class="share" style="width:' + (parseFloat(row[column.show]) || 0) + '%"></span>');
          html.push(text, "</td>");
        });
        html.push("</tr>");
      });
      table.tBodies[0].innerHTML = html.join("");
      var shown = view.length ? exact.format(first + 1) + "-" + exact.format(first + rows.length) : "0";
      status.textContent = "rows " + shown + " of " + exact.format(view.length) +
        (view.length !== data.rows.length ? " (filtered from " + exact.format(data.rows.length) + ")" : "");
      previous.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }

    filter.addEventListener("input", function () { state.page = 0; refresh(); });
    pageSize.addEventListener("change", function () { state.page = 0; draw(); });
    previous.addEventListener("click", function () { state.page -= 1; draw(); });
    next.addEventListener("click", function () { state.page += 1; draw(); });
    refresh();
  }

  function sortable(table) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var current = {column: -1, descending: false};
    headers.forEach(function (th, c) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function sort() {
        var numeric = th.classList.contains("num");
        current.descending = current.column === c ? !current.descending : numeric;
        current.column = c;
        headers.forEach(function (h, k) {
          h.setAttribute("aria-sort", k !== c ? "none" : current.descending ? "descending" : "ascending");
        });
        var rows = Array.prototype.slice.call(table.tBodies[0].rows);
        var key = function (row) {
          var cell = row.cells[c];
          return numeric ? Number(cell.dataset.value !== undefined ? cell.dataset.value : NaN) : cell.textContent;
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var order = numeric ? (isNaN(x) ? -Infinity : x) - (isNaN(y) ? -Infinity : y) : x.localeCompare(y);
          return (current.descending ? -1 : 1) * order;
        });
        rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  }

  var data = document.getElementById("node-data");
  if (data) nodeTable(JSON.parse(data.textContent));
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
})();
