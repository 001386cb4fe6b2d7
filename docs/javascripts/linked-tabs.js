// Tabs follow the reader's choice everywhere on the page: picking "PyTorch" in one tab set picks it in every tab
// set with a tab of that name, including those inside boxes that are still closed (Material links only the sets
// it can see), and a box opened later shows the tab last picked.
"use strict";

(() => {
  const KEY = "linked-tab";

  function labelText(input) {
    const label = input.parentElement.querySelector(`:scope > .tabbed-labels > label[for="${input.id}"]`);
    return label ? label.textContent.trim() : null;
  }

  function pick(text, within = document) {
    for (const input of within.querySelectorAll(".tabbed-set > input")) {
      if (!input.checked && labelText(input) === text) input.checked = true;
    }
  }

  document.addEventListener("change", event => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.matches(".tabbed-set > input")) return;
    const text = labelText(input);
    if (!text) return;
    sessionStorage.setItem(KEY, text);
    pick(text);
  });

  document.addEventListener("toggle", event => {
    const text = sessionStorage.getItem(KEY);
    if (text && event.target.open) pick(text, event.target);
  }, true); // "toggle" does not bubble
})();
