// The dashboard's live parts: every [data-live] element is fetched again every data-every seconds.
"use strict";
(function () {
  function poll(element) {
    const seconds = Number(element.dataset.every || 5);
    let busy = false;
    window.setInterval(async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(element.dataset.live, {headers: {"X-Requested-With": "fetch"}, cache: "no-store"});
        if (response.status === 401) {
          window.location.reload(); // signed out meanwhile: the page itself goes to the sign-in
        } else if (response.ok) {
          element.innerHTML = await response.text();
        }
      } catch (error) {
        // omnibot is restarting: try again at the next tick.
      } finally {
        busy = false;
      }
    }, seconds * 1000);
  }

  document.querySelectorAll("[data-live]").forEach(poll);
  document.querySelectorAll("input[data-select]").forEach((input) => {
    input.addEventListener("focus", () => input.select());
  });
})();
