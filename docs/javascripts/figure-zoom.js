// Tap or click a figure to see it enlarged: at least twice the width it has in the column, in a full-screen
// frame that pans (drag, scroll or swipe) and, on a phone, pinches. Escape, the close button or a tap outside
// the drawing closes it. The figure keeps its colour scheme: the enlarged copy is the image that was shown.
"use strict";

(() => {
  const ZOOM = 2; // times the width shown in the column
  const images = [...document.querySelectorAll("article img:not(.no-lightbox)")].filter(img => !img.closest("a"));
  if (!images.length) return;

  let dialog = null;
  let frame = null;

  function build() {
    frame = window.element("div", { class: "figure-zoom__frame" });
    const close = window.element("button", { type: "button", class: "figure-zoom__close", "aria-label": "Close" },
      "×");
    dialog = window.element("dialog", { class: "figure-zoom", "aria-label": "Enlarged figure" }, close, frame);
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", event => {
      if (event.target === dialog || event.target === frame) dialog.close();
    });
    // A mouse drags the drawing around; touch screens pan and pinch by themselves.
    let drag = null;
    frame.addEventListener("pointerdown", event => {
      if (event.pointerType !== "mouse") return;
      drag = { x: event.clientX, y: event.clientY, left: frame.scrollLeft, top: frame.scrollTop, moved: false };
    });
    frame.addEventListener("pointermove", event => {
      if (!drag) return;
      frame.scrollLeft = drag.left - (event.clientX - drag.x);
      frame.scrollTop = drag.top - (event.clientY - drag.y);
      drag.moved = true;
    });
    window.addEventListener("pointerup", () => { drag = null; });
    document.body.append(dialog);
  }

  function open(img) {
    if (!dialog) build();
    const shown = img.getBoundingClientRect().width;
    const copy = window.element("img", { src: img.currentSrc || img.src, alt: img.alt });
    copy.style.width = `${Math.round(Math.max(ZOOM * shown, img.naturalWidth))}px`;
    frame.replaceChildren(copy);
    dialog.showModal();
    // Start at the middle of the drawing, where its title or its main part usually is.
    frame.scrollLeft = (frame.scrollWidth - frame.clientWidth) / 2;
  }

  for (const img of images) {
    img.classList.add("figure-zoom__target");
    img.setAttribute("tabindex", "0");
    img.setAttribute("role", "button");
    img.setAttribute("aria-label", `Enlarge: ${img.alt}`);
    img.addEventListener("click", () => open(img));
    img.addEventListener("keydown", event => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open(img);
      }
    });
  }
})();
