// A call-out's live board: asks board.json for news every few seconds (ETag, so an
// unchanged board is a 304 of no body) and swaps in the board's new HTML. Without this
// file the page still works: a reload shows the same.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.fetch) {
    return;
  }
  var url = board.getAttribute("data-board-url");
  var every = parseInt(board.getAttribute("data-poll-ms"), 10) || 3000;
  var version = board.getAttribute("data-version");
  var status = document.querySelector("[data-live-status]");
  // An ended call-out changes no more: the board stops asking.
  var open = board.getAttribute("data-open") === "true";

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function clock() {
    return new Date().toLocaleTimeString("zh-CN", { hour12: false });
  }

  function poll() {
    if (document.hidden) {
      window.setTimeout(poll, every);
      return;
    }
    fetch(url, {
      headers: { "If-None-Match": '"' + version + '"', Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        if (response.status === 304) {
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (news) {
        if (news) {
          version = news.version;
          board.setAttribute("data-version", version);
          board.innerHTML = news.html;
          open = news.status === "active" || news.status === "full";
        }
        say(board.getAttribute("data-updated-text") + " " + clock());
      })
      .catch(function () {
        say(board.getAttribute("data-offline-text"));
      })
      .then(function () {
        if (open) {
          window.setTimeout(poll, every);
        }
      });
  }

  // The page says it needs a reload (true without this file); here it updates itself, and
  // an ended call-out has nothing more to show.
  if (status) {
    status.textContent = status.getAttribute("data-live-text");
    status.hidden = !open;
  }
  if (open) {
    window.setTimeout(poll, every);
  }
})();
