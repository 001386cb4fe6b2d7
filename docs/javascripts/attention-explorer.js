// The attention explorer: every head of all-MiniLM-L6-v2 on the sentences of
// transformer_tutorial.experiments.explorer, whose weights the site's build computes with the NumPy encoder.
"use strict";

(() => {
  const root = document.getElementById("attention-explorer-app");
  if (!root) return;

  const element = window.element; // element.js

  let data = null;
  const decoded = new Map(); // sentence index -> Uint8Array of (L, H, T, T) bytes
  const state = { sentence: 0, layer: 0, head: 0, token: null, numbers: false };

  function bytes(index) {
    if (!decoded.has(index)) {
      const text = atob(data.sentences[index].weights);
      decoded.set(index, Uint8Array.from(text, c => c.charCodeAt(0)));
    }
    return decoded.get(index);
  }

  // --8<-- [start:weight]
  function weight(sentence, layer, head, from, to) {
    // The weight token `from` gives to token `to`:
    // the byte round(w · 255) at (layer, head, from, to)
    const size = data.sentences[sentence].tokens.length;
    const index = ((layer * data.heads + head) * size + from) * size + to;
    return bytes(sentence)[index] / data.levels;
  }
  // --8<-- [end:weight]

  function measuredHead(layer, head) {
    return data.measured.find(m => m.layer === layer && m.head === head);
  }

  // The controls
  const sentenceSelect = element("select", { id: "explorer-sentence" });
  const layerSelect = element("select", { id: "explorer-layer" });
  const headSelect = element("select", { id: "explorer-head" });
  const numbers = element("input", { id: "explorer-numbers", type: "checkbox" });
  const controls = element("div", { class: "explorer__controls" },
    element("label", { for: "explorer-sentence" }, "Sentence"), sentenceSelect,
    element("label", { for: "explorer-layer" }, "Layer"), layerSelect,
    element("label", { for: "explorer-head" }, "Head"), headSelect,
    element("label", { class: "explorer__toggle" }, numbers, " Show the weights as numbers"));
  const grid = element("div", { class: "explorer__grid", role: "group", "aria-label": "All heads: pick one" });
  const title = element("h3", { class: "explorer__title", tabindex: "-1" });
  const note = element("p", { class: "explorer__note" });
  const tokens = element("div", { class: "explorer__tokens", role: "group", "aria-label": "Tokens" });
  const looksAt = element("div", { class: "explorer__strip", "aria-live": "polite" });
  const lookedAtBy = element("div", { class: "explorer__strip" });
  const matrix = element("div", { class: "explorer__matrix" });
  const detail = element("section", { class: "explorer__detail" },
    title, note, tokens, looksAt, lookedAtBy, matrix);

  function ink() {
    return getComputedStyle(root).getPropertyValue("--explorer-rgb").trim() || "63, 81, 181";
  }

  function drawThumbnail(canvas, layer, head) {
    const size = data.sentences[state.sentence].tokens.length;
    const context = canvas.getContext("2d");
    canvas.width = size;
    canvas.height = size;
    context.clearRect(0, 0, size, size);
    const rgb = ink();
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        context.fillStyle = `rgba(${rgb}, ${weight(state.sentence, layer, head, i, j)})`;
        context.fillRect(j, i, 1, 1);
      }
    }
  }

  function buildGrid() {
    grid.replaceChildren(element("span", { class: "explorer__corner", "aria-hidden": "true" }),
      ...Array.from({ length: data.heads }, (_, h) =>
        element("span", { class: "explorer__axis", "aria-hidden": "true" }, String(h))));
    for (let l = 0; l < data.layers; l++) {
      grid.append(element("span", { class: "explorer__axis", "aria-hidden": "true" }, `L${l}`));
      for (let h = 0; h < data.heads; h++) {
        const found = measuredHead(l, h);
        const label = `Layer ${l}, head ${h}` + (found ? ` (the ${found.name} head)` : "");
        const button = element("button", {
          type: "button", class: "explorer__thumb" + (found ? " is-measured" : ""),
          "data-layer": l, "data-head": h, "aria-label": label, title: label, tabindex: "-1",
        }, element("canvas", { "aria-hidden": "true" }));
        button.addEventListener("click", () => select({ layer: l, head: h }));
        grid.append(button);
      }
    }
    grid.addEventListener("keydown", event => {
      const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
      if (!(event.key in moves) || !event.target.matches(".explorer__thumb")) return;
      event.preventDefault();
      const [dl, dh] = moves[event.key];
      const l = Math.max(0, Math.min(data.layers - 1, Number(event.target.dataset.layer) + dl));
      const h = Math.max(0, Math.min(data.heads - 1, Number(event.target.dataset.head) + dh));
      grid.querySelector(`[data-layer="${l}"][data-head="${h}"]`).focus();
    });
  }

  function drawGrid() {
    grid.querySelectorAll(".explorer__thumb").forEach(button => {
      const l = Number(button.dataset.layer);
      const h = Number(button.dataset.head);
      const selected = l === state.layer && h === state.head;
      button.setAttribute("aria-pressed", String(selected));
      button.tabIndex = selected ? 0 : -1;
      drawThumbnail(button.querySelector("canvas"), l, h);
    });
  }

  function shade(node, value) {
    node.style.setProperty("--weight", value.toFixed(3));
    node.classList.toggle("is-strong", value > 0.5);
  }

  function drawStrips() {
    const sentence = data.sentences[state.sentence];
    const i = state.token;
    const strip = (node, label, value) => {
      node.replaceChildren(element("span", { class: "explorer__strip-label" }, label),
        ...sentence.tokens.map((token, j) => {
          const w = value(j);
          const cell = element("span", { class: "explorer__cell", "data-weight": w.toFixed(3) },
            element("b", {}, token), element("small", {}, w.toFixed(2)));
          shade(cell, w);
          return cell;
        }));
    };
    if (i === null) {
      looksAt.replaceChildren("Point at a token, or move to it with the Tab key, to see where it looks.");
      lookedAtBy.replaceChildren();
      return;
    }
    const name = sentence.tokens[i];
    strip(looksAt, `Where "${name}" looks:`, j => weight(state.sentence, state.layer, state.head, i, j));
    strip(lookedAtBy, `Who looks at "${name}":`, j => weight(state.sentence, state.layer, state.head, j, i));
    matrix.querySelectorAll("tr").forEach((row, r) => row.classList.toggle("is-row", r - 1 === i));
    matrix.querySelectorAll("td, th").forEach(cell => {
      cell.classList.toggle("is-column", Number(cell.dataset.column) === i);
    });
  }

  function drawDetail() {
    const sentence = data.sentences[state.sentence];
    const found = measuredHead(state.layer, state.head);
    title.textContent = `Layer ${state.layer}, head ${state.head}` + (found ? `: the ${found.name} head` : "");
    note.replaceChildren();
    if (found) {
      const link = element("a", { href: "../encoder-only-models/#what-the-heads-do" }, "the encoder-only chapter");
      note.append("This is the head that ", link,
        ` finds as the ${found.name} head (score ${found.score.toFixed(2)}).`);
    }
    if (sentence.pronoun !== undefined) {
      note.append(element("span", { class: "explorer__case" },
        ` In this sentence "${sentence.tokens[sentence.pronoun]}" (position ${sentence.pronoun}) refers to ` +
        `"${sentence.tokens[sentence.antecedent]}", not to "${sentence.tokens[sentence.other]}".`));
    }
    if (sentence.real < sentence.tokens.length) {
      note.append(element("span", {}, ` Padded from ${sentence.real} to ${sentence.tokens.length} tokens: ` +
        "no token attends to [PAD], so its column is empty."));
    }
    tokens.replaceChildren(...sentence.tokens.map((token, i) => {
      const button = element("button", {
        type: "button", class: "explorer__token", "data-index": i, "aria-pressed": String(i === state.token),
      }, token);
      const pick = () => { state.token = i; markTokens(); drawStrips(); };
      button.addEventListener("mouseenter", pick);
      button.addEventListener("focus", pick);
      button.addEventListener("click", pick);
      return button;
    }));
    const table = element("table", { class: "explorer__table" + (state.numbers ? " shows-numbers" : "") });
    table.append(element("caption", {}, "Rows: the token that looks; columns: the token it looks at."));
    const head = element("tr", { class: "explorer__columns" }, element("th", { scope: "col" }, ""));
    sentence.tokens.forEach((token, j) => head.append(element("th", { scope: "col", "data-column": j }, token)));
    table.append(head);
    sentence.tokens.forEach((token, i) => {
      const row = element("tr", {}, element("th", { scope: "row" }, token));
      sentence.tokens.forEach((_, j) => {
        const w = weight(state.sentence, state.layer, state.head, i, j);
        const cell = element("td", { "data-column": j, "data-weight": w.toFixed(3) }, state.numbers ? w.toFixed(2) : "");
        shade(cell, w);
        row.append(cell);
      });
      table.append(row);
    });
    matrix.replaceChildren(table);
    drawStrips();
  }

  function markTokens() {
    tokens.querySelectorAll(".explorer__token").forEach((button, i) =>
      button.setAttribute("aria-pressed", String(i === state.token)));
  }

  function select(change, fromHash = false) {
    const sentenceChanged = change.sentence !== undefined && change.sentence !== state.sentence;
    Object.assign(state, change);
    if (sentenceChanged) state.token = null;
    const sentence = data.sentences[state.sentence];
    if (state.token === null && sentence.pronoun !== undefined) state.token = sentence.pronoun;
    sentenceSelect.value = String(state.sentence);
    layerSelect.value = String(state.layer);
    headSelect.value = String(state.head);
    numbers.checked = state.numbers;
    drawGrid();
    drawDetail();
    if (!fromHash) {
      history.replaceState(null, "", `#sentence=${state.sentence}&layer=${state.layer}&head=${state.head}`);
    }
  }

  function fromHash() {
    const values = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
    const change = {};
    for (const [key, limit] of [["sentence", data.sentences.length], ["layer", data.layers], ["head", data.heads]]) {
      const value = Number.parseInt(values[key], 10);
      if (Number.isInteger(value) && value >= 0 && value < limit) change[key] = value;
    }
    return change;
  }

  function start(loaded) {
    data = loaded;
    const groups = new Map();
    data.sentences.forEach((sentence, index) => {
      if (!groups.has(sentence.group)) groups.set(sentence.group, element("optgroup", { label: sentence.group }));
      groups.get(sentence.group).append(element("option", { value: index }, sentence.text));
    });
    sentenceSelect.append(...groups.values());
    layerSelect.append(...Array.from({ length: data.layers }, (_, l) => element("option", { value: l }, String(l))));
    headSelect.append(...Array.from({ length: data.heads }, (_, h) => element("option", { value: h }, String(h))));
    sentenceSelect.addEventListener("change", () => select({ sentence: Number(sentenceSelect.value) }));
    layerSelect.addEventListener("change", () => select({ layer: Number(layerSelect.value) }));
    headSelect.addEventListener("change", () => select({ head: Number(headSelect.value) }));
    numbers.addEventListener("change", () => select({ numbers: numbers.checked }));
    root.replaceChildren(controls, grid, detail);
    buildGrid();
    select(fromHash(), true);
    window.addEventListener("hashchange", () => select(fromHash(), true));
    // Material's palette toggle changes the colour scheme on <body>: draw the small maps again in its colours
    new MutationObserver(drawGrid).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  }

  window.attentionExplorer = {
    ready: fetch(root.dataset.src)
      .then(response => response.json())
      .then(start)
      .catch(error => {
        root.replaceChildren(element("p", { class: "explorer__error" },
          `The attention weights could not be read (${error.message}).`));
        throw error;
      }),
    weight: (...args) => weight(...args),
    data: () => data,
    state: () => ({ ...state }),
  };
})();
