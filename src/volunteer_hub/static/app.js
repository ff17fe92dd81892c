// volunteer_hub: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // <form data-confirm="…">: ask before a destructive POST (remove member, cancel signup).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // Once a POST form is sent, its submit buttons go grey: on a slow phone a second tap would
  // send it again (a second call-out texting everyone, a second event, a second feed). A
  // disabled button is not sent with the form, so the pressed one's name and value
  // (action=confirm, attendance=late) are copied into a hidden input first. Registered after
  // the data-confirm listener: a form the person chose not to send is left alone.
  var GUARD_RELEASE_MS = 15000;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.getAttribute || (form.getAttribute("method") || "").toLowerCase() !== "post") {
      return;
    }
    var pressed = event.submitter;
    if (pressed && pressed.name && !pressed.disabled) {
      var copy = document.createElement("input");
      copy.type = "hidden";
      copy.name = pressed.name;
      copy.value = pressed.value;
      copy.setAttribute("data-submit-copy", "");
      form.appendChild(copy);
    }
    var buttons = [].filter.call(form.elements, function (el) {
      return (el.type === "submit" || el.type === "image") && !el.disabled;
    });
    buttons.forEach(function (button) {
      button.disabled = true;
      button.setAttribute("data-submit-guard", "");
    });
    // A POST that answers with a file (no new page) or a dropped connection must not leave
    // the buttons dead for good.
    window.setTimeout(function () {
      release(form);
    }, GUARD_RELEASE_MS);
  });

  function release(root) {
    root.querySelectorAll("[data-submit-guard]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("data-submit-guard");
    });
    root.querySelectorAll("[data-submit-copy]").forEach(function (copy) {
      copy.remove();
    });
  }

  // Back to a page kept in the browser's memory (the back button): its buttons work again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      release(document);
    }
  });

  // <input type="checkbox" data-select-all="NAME">: ticks or clears every NAME box of its form.
  document.addEventListener("change", function (event) {
    var all = event.target;
    var name = all.getAttribute && all.getAttribute("data-select-all");
    if (!name || !all.form) {
      return;
    }
    all.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      box.closest(".js-only").hidden = false;
    });
    var form = document.querySelector("[data-event-form]");
    if (form) {
      setUpShiftRows(form);
    }
  });

  function setUpShiftRows(form) {
    var container = form.querySelector("[data-shift-rows]");
    var template = form.querySelector("template[data-shift-template]");
    if (!container || !template) {
      return;
    }
    form.querySelectorAll(".js-only").forEach(function (el) {
      el.hidden = false;
    });

    // Row names carry an index (shifts-3-date); the server accepts gaps, so a new row only
    // needs an index no other row uses.
    var nextIndex = container.querySelectorAll("[data-shift-row]").length;

    function addRow() {
      var html = template.innerHTML.replace(/__INDEX__/g, String(nextIndex));
      nextIndex += 1;
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var row = holder.querySelector("[data-shift-row]");
      container.appendChild(row);
      showButtons(row);
      renumber();
      return row;
    }

    function showButtons(row) {
      row.querySelectorAll(".js-only").forEach(function (el) {
        el.hidden = false;
      });
    }

    function renumber() {
      container.querySelectorAll("[data-shift-row]").forEach(function (row, i) {
        var number = row.querySelector("[data-row-number]");
        if (number) {
          number.textContent = String(i + 1);
        }
      });
    }

    function isBlank(row) {
      var blank = true;
      row.querySelectorAll("input[type=text], input[type=date], input[type=time], input[type=number], input[type=hidden]")
        .forEach(function (input) {
          if (input.value.trim() !== "") {
            blank = false;
          }
        });
      return blank;
    }

    container.querySelectorAll("[data-shift-row]").forEach(showButtons);

    container.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (!button) {
        return;
      }
      var row = button.closest("[data-shift-row]");
      var message = row.getAttribute("data-confirm");
      if (message && !window.confirm(message)) {
        return;
      }
      row.remove();
      renumber();
    });

    var add = form.querySelector("[data-add-row]");
    if (add) {
      add.addEventListener("click", function () {
        var row = addRow();
        var first = row.querySelector("input[type=text], input[type=date]");
        if (first) {
          first.focus();
        }
      });
    }

    var rota = form.querySelector("[data-rota]");
    var generate = form.querySelector("[data-rota-generate]");
    if (rota && generate) {
      rota.hidden = false;
      generate.addEventListener("click", function () {
        generateRota(form, container, addRow, isBlank, renumber);
      });
    }
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // Fill rows for a rota: N consecutive shifts of H hours from a start date and time.
  // Dates are computed on wall-clock values in UTC arithmetic, so no local DST can shift them.
  function generateRota(form, container, addRow, isBlank, renumber) {
    var fields = form.querySelector("[data-rota-fields]");
    var errorBox = form.querySelector("[data-rota-error]");
    var date = form.querySelector("#rota-date").value;
    var start = form.querySelector("#rota-start").value;
    var count = parseInt(form.querySelector("#rota-count").value, 10);
    var hours = parseInt(form.querySelector("#rota-hours").value, 10);
    var capacity = parseInt(form.querySelector("#rota-capacity").value, 10);
    var dateMatch = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
    var timeMatch = /^(\d{1,2}):(\d{2})/.exec(start);
    if (!dateMatch || !timeMatch || !(count >= 1 && count <= 100) || !(hours >= 1 && hours <= 12) || !(capacity >= 1)) {
      errorBox.textContent = fields.getAttribute("data-error");
      errorBox.hidden = false;
      return;
    }
    errorBox.hidden = true;

    container.querySelectorAll("[data-shift-row]").forEach(function (row) {
      if (isBlank(row)) {
        row.remove();
      }
    });

    var base = Date.UTC(+dateMatch[1], +dateMatch[2] - 1, +dateMatch[3], +timeMatch[1], +timeMatch[2]);
    var label = fields.getAttribute("data-shift-label") || "{n}";
    for (var i = 0; i < count; i += 1) {
      var from = new Date(base + i * hours * 3600 * 1000);
      var to = new Date(base + (i + 1) * hours * 3600 * 1000);
      var row = addRow();
      setValue(row, "title", label.replace("{n}", String(i + 1)));
      setValue(row, "date", from.getUTCFullYear() + "-" + pad(from.getUTCMonth() + 1) + "-" + pad(from.getUTCDate()));
      setValue(row, "start", pad(from.getUTCHours()) + ":" + pad(from.getUTCMinutes()));
      // An end earlier than the start is read as the next day by the server.
      setValue(row, "end", pad(to.getUTCHours()) + ":" + pad(to.getUTCMinutes()));
      setValue(row, "capacity", String(capacity));
    }
    renumber();
  }

  function setValue(row, name, value) {
    var input = row.querySelector("input[name$='-" + name + "']");
    if (input) {
      input.value = value;
    }
  }
})();
