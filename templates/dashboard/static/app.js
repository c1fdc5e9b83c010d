// Sorting for the dashboard's tables marked data-sortable: each column
// header becomes a button; a cell sorts by its data-value attribute when it
// has one, else by its text. Columns marked data-type="num" sort as numbers.
(function () {
  "use strict";

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) {
      return numeric ? -Infinity : "";
    }
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
    raw = raw.trim();
    if (!numeric) {
      return raw.toLowerCase();
    }
    var n = parseFloat(raw.replace(/[,%\s]/g, "").replace("\u2212", "-"));
    return isNaN(n) ? -Infinity : n;
  }

  function sortBy(table, header, index) {
    var numeric = header.getAttribute("data-type") === "num";
    var current = header.getAttribute("aria-sort");
    var ascending = current ? current !== "ascending" : !numeric;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, i) {
      return { row: row, key: cellValue(row, index, numeric), i: i };
    });
    keyed.sort(function (a, b) {
      var c = 0;
      if (a.key < b.key) {
        c = -1;
      } else if (a.key > b.key) {
        c = 1;
      }
      return (ascending ? c : -c) || a.i - b.i;
    });
    keyed.forEach(function (k) {
      body.appendChild(k.row);
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  function enhance(table) {
    if (!table.tHead || !table.tBodies.length) {
      return;
    }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort-button";
      while (th.firstChild) {
        button.appendChild(th.firstChild);
      }
      var arrow = document.createElement("span");
      arrow.className = "sort-arrow";
      arrow.setAttribute("aria-hidden", "true");
      button.appendChild(arrow);
      th.appendChild(button);
      button.addEventListener("click", function () {
        sortBy(table, th, index);
      });
    });
    table.classList.add("is-sortable");
  }

  document.querySelectorAll("table[data-sortable]").forEach(enhance);
})();

// "/" focuses the search box, unless typing in a field already.
(function () {
  "use strict";
  var box = document.getElementById("search-input");
  if (!box) {
    return;
  }
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) {
      return;
    }
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      return;
    }
    e.preventDefault();
    box.focus();
    box.select();
  });
})();
