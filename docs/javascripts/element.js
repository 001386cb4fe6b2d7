// One helper shared by the site's interactive pages: a DOM element with attributes and children.
"use strict";

window.element = function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
};
