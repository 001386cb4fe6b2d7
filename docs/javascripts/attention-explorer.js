// The attention explorer: every head of all-MiniLM-L6-v2 on the sentences of
// transformer_tutorial.experiments.explorer, whose weights the site's build computes with the NumPy encoder,
// and on the reader's own sentences, which explorer-sentence.js runs in the browser and adds with addSentence.
"use strict";

(() => {
  const root = document.getElementById("attention-explorer-app");
  if (!root) return;

  const element = window.element; // element.js

  let data = null;
  const decoded = new Map(); // sentence index -> Uint8Array of (L, H, T, T) bytes
  const state = { sentence: 0, layer: 0, head: 0, token: null, numbers: false };
  let preview = null; // the token under the pointer: shown while it is there, without moving the pinned one
  let drawnSentence = null; // the sentence the small maps show
  let onMissingText = () => {}; // what to do with an address that names a sentence not run yet

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
    const own = data.sentences[sentence].attention; // a sentence run here: float64
    return own ? own[index] : bytes(sentence)[index] / data.levels;
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
  const title = element("h2", { class: "explorer__title", tabindex: "-1" });
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
    // One pixel per weight, the ink at opacity w, written as one image (a 256-token sentence has 65,536)
    const size = data.sentences[state.sentence].tokens.length;
    const context = canvas.getContext("2d");
    canvas.width = size;
    canvas.height = size;
    const image = context.createImageData(size, size);
    const [r, g, b] = ink().split(",").map(Number);
    // weight(state.sentence, layer, head, i, j) for every (i, j), read as one run of the head's values: 72 maps
    // of 65,536 calls each took half a second
    const own = data.sentences[state.sentence].attention;
    const values = own || bytes(state.sentence);
    const divisor = own ? 1 : data.levels;
    const start = (layer * data.heads + head) * size * size;
    for (let k = 0; k < size * size; k++) {
      image.data[4 * k] = r;
      image.data[4 * k + 1] = g;
      image.data[4 * k + 2] = b;
      image.data[4 * k + 3] = Math.round(255 * (values[start + k] / divisor));
    }
    context.putImageData(image, 0, 0);
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

  function markGrid() {
    grid.querySelectorAll(".explorer__thumb").forEach(button => {
      const selected = Number(button.dataset.layer) === state.layer && Number(button.dataset.head) === state.head;
      button.setAttribute("aria-pressed", String(selected));
      button.tabIndex = selected ? 0 : -1;
    });
  }

  function drawGrid() {
    // The 72 small maps: drawn again only for another sentence or colour scheme, never for a click
    drawnSentence = state.sentence;
    grid.querySelectorAll(".explorer__thumb").forEach(button => {
      drawThumbnail(button.querySelector("canvas"), Number(button.dataset.layer), Number(button.dataset.head));
    });
  }

  function shade(node, value) {
    node.style.setProperty("--weight", value.toFixed(3));
    node.classList.toggle("is-strong", value > 0.5);
  }

  function drawStrips() {
    const sentence = data.sentences[state.sentence];
    const i = preview === null ? state.token : preview;
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
      looksAt.replaceChildren("Point at a token to see where it looks; click it, or move to it with the Tab key, " +
        "to keep it.");
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
    if (sentence.own) {
      note.append(element("span", { class: "explorer__case" }, ` Your sentence, run in this browser: ${sentence.note}`));
    }
    if (sentence.real < sentence.tokens.length) {
      note.append(element("span", {}, ` Padded from ${sentence.real} to ${sentence.tokens.length} tokens: ` +
        "no token attends to [PAD], so its column is empty."));
    }
    tokens.replaceChildren(...sentence.tokens.map((token, i) => {
      const unknown = token === "[UNK]" && sentence.words ? sentence.words[i] : null;
      const button = element("button", {
        type: "button", class: "explorer__token" + (unknown ? " is-unknown" : ""), "data-index": i,
        "aria-pressed": String(i === state.token),
        ...(unknown ? { title: `"${unknown}" is not in the vocabulary` } : {}),
      }, token);
      // Pointing previews a token; a click, a tap or the keyboard pins it
      const pin = () => { state.token = i; preview = null; markTokens(); drawStrips(); };
      button.addEventListener("mouseenter", () => { preview = i; drawStrips(); });
      button.addEventListener("mouseleave", () => { preview = null; drawStrips(); });
      button.addEventListener("focus", pin);
      button.addEventListener("click", pin);
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
    preview = null;
    const sentence = data.sentences[state.sentence];
    if (state.token === null && sentence.pronoun !== undefined) state.token = sentence.pronoun;
    sentenceSelect.value = String(state.sentence);
    layerSelect.value = String(state.layer);
    headSelect.value = String(state.head);
    numbers.checked = state.numbers;
    if (drawnSentence !== state.sentence) drawGrid();
    markGrid();
    drawDetail();
    if (!fromHash) history.replaceState(null, "", "#" + address());
  }

  function address() {
    // A stored sentence by its number; the reader's own by its text, so that a link can run it again
    const sentence = data.sentences[state.sentence];
    const which = sentence.own ? `text=${encodeURIComponent(sentence.text)}` : `sentence=${state.sentence}`;
    return `${which}&layer=${state.layer}&head=${state.head}`;
  }

  function fromHash() {
    const values = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
    const change = {};
    for (const [key, limit] of [["sentence", data.stored], ["layer", data.layers], ["head", data.heads]]) {
      const value = Number.parseInt(values[key], 10);
      if (Number.isInteger(value) && value >= 0 && value < limit) change[key] = value;
    }
    if (values.text !== undefined) {
      const found = data.sentences.findIndex(sentence => sentence.own && sentence.text === values.text);
      if (found >= 0) change.sentence = found;
      else onMissingText(values.text, change);
    }
    return change;
  }

  function addSentence(sentence, view = {}) {
    // A sentence run in the browser: {text, tokens, words, attention (L, H, T, T), note}. The same text again
    // replaces the earlier run; the explorer then shows it, on the head in `view` or the current one
    let index = data.sentences.findIndex(other => other.own && other.text === sentence.text);
    const entry = { ...sentence, own: true, group: "Your sentences", real: sentence.tokens.length };
    const label = sentence.text.length > 60 ? sentence.text.slice(0, 59) + "…" : sentence.text;
    if (index < 0) {
      index = data.sentences.push(entry) - 1;
      if (!ownGroup.isConnected) sentenceSelect.prepend(ownGroup);
      ownGroup.append(element("option", { value: index }, label));
    } else {
      data.sentences[index] = entry;
    }
    drawnSentence = null;
    select({ ...view, sentence: index });
    return index;
  }

  const ownGroup = element("optgroup", { label: "Your sentences" });

  function start(loaded) {
    data = loaded;
    data.stored = data.sentences.length;
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
    new MutationObserver(() => { drawnSentence = null; select({}, true); }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
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
    addSentence: (...args) => addSentence(...args),
    onMissingText: handler => { onMissingText = handler; },
    select: change => select(change),
  };
})();
