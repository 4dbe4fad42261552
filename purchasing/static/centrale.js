// Small behaviours of the pages; every page works without them.
"use strict";

// A button with data-confirm asks before its form is sent (cancel an order, close a year...).
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// An element with data-refresh="<seconds>" reloads the page until the work it shows is done.
const refreshing = document.querySelector("[data-refresh]");
if (refreshing) {
  window.setTimeout(() => window.location.reload(), Number(refreshing.dataset.refresh) * 1000);
}

// On a phone the menu starts folded; without script it stays open and usable.
const menu = document.querySelector("details.menu");
if (menu && window.matchMedia("(max-width: 48rem)").matches) {
  menu.open = false;
}
