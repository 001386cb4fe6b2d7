// The live reversal model: reads what the reader types, checks it, runs Transformer.greedyGenerate
// (transformer.js) and shows the reversal and every head's cross-attention, step by step.
"use strict";

(() => {
  const root = document.getElementById("live-model-app");
  if (!root) return;

  const element = window.element; // element.js

  let model = null;

  // --8<-- [start:parse]
  function parse(text) {
    // The reader's text -> {ids} or {error}. Spaces and commas separate symbols and may be left out.
    const symbols = text.replace(/[\s,]+/g, "");
    const { min_length: shortest, max_length: longest } = model.task;
    if (symbols.length === 0) {
      return { error: `Type a sequence of ${shortest} to ${longest} letters from a to ${model.symbols.at(-1)}.` };
    }
    const unknown = [...new Set([...symbols].filter(symbol => !model.symbols.includes(symbol)))];
    if (unknown.length) {
      const listed = unknown.map(symbol => `"${symbol}"`).join(", ");
      return {
        error: `${listed} ${unknown.length === 1 ? "is not a symbol" : "are not symbols"} of this model: ` +
          `it knows the ${model.symbols.length} lower-case letters a to ${model.symbols.at(-1)}.`,
      };
    }
    if (symbols.length > longest) {
      return {
        error: `That is ${symbols.length} symbols; the model was trained on sequences of ${shortest} to ` +
          `${longest}, so it is not asked to reverse longer ones.`,
      };
    }
    return { ids: [...symbols].map(symbol => model.firstSymbol + model.symbols.indexOf(symbol)) };
  }
  // --8<-- [end:parse]

  function name(id) {
    if (id === model.eos) return "end";
    if (id === model.bos) return "start";
    return model.symbols[id - model.firstSymbol];
  }

  function generate(ids) {
    // What the page and the tests call: greedy decoding, one more step than the source has symbols (for EOS)
    return Transformer.greedyGenerate(ids, model, ids.length + 1);
  }

  const input = element("input", {
    id: "live-model-input", type: "text", value: "a b c d e", autocomplete: "off", spellcheck: "false",
    "aria-describedby": "live-model-message",
  });
  const button = element("button", { type: "submit", class: "md-button md-button--primary" }, "Reverse");
  const form = element("form", { class: "live-model__form" },
    element("label", { for: "live-model-input" }, "Sequence"), input, button);
  const message = element("p", { id: "live-model-message", class: "live-model__message", role: "status" });
  const output = element("div", { class: "live-model__output", "aria-live": "polite" });
  const stepper = element("div", { class: "live-model__steps" });
  const heads = element("div", { class: "live-model__heads" });
  root.replaceChildren(form, message, output, stepper, heads);

  let source = [];
  let steps = [];
  let current = 0;

  function showStep(index) {
    current = Math.max(0, Math.min(index, steps.length - 1));
    output.querySelectorAll(".live-model__token").forEach((token, i) => {
      token.classList.toggle("is-current", i === current);
      token.classList.toggle("is-future", i > current);
      token.setAttribute("aria-pressed", String(i === current));
    });
    const step = steps[current];
    stepper.querySelector(".live-model__step-label").textContent =
      `Step ${current + 1} of ${steps.length}: the decoder has read "start${steps.slice(0, current)
        .map(s => " " + name(s.token)).join("")}" and writes "${name(step.token)}" ` +
      `(probability ${step.probabilities[step.token].toFixed(3)}).`;
    stepper.querySelector("input").value = String(current);
    heads.replaceChildren(...step.cross.flatMap((layer, l) => layer.map((weights, h) => {
      const row = element("div", { class: "live-model__head", "data-layer": l, "data-head": h });
      row.append(element("span", { class: "live-model__head-name" }, `Layer ${l}, head ${h}`));
      const cells = element("span", { class: "live-model__cells" });
      weights.forEach((weight, s) => {
        const cell = element("span", {
          class: "live-model__cell", "data-weight": weight.toFixed(6),
          title: `weight ${weight.toFixed(3)} on source position ${s}`,
        }, element("b", {}, name(source[s])), element("small", {}, weight.toFixed(2)));
        cell.style.setProperty("--weight", weight.toFixed(4));
        cell.classList.toggle("is-strong", weight > 0.5);
        cells.append(cell);
      });
      row.append(cells);
      return row;
    })));
  }

  let shown = null; // the ids whose reversal is on the page: the same sequence again is not recomputed

  function run(event) {
    if (event) event.preventDefault();
    if (!model) {
      // The weights are still on their way (or failed): say so instead of failing on the missing model.
      if (!message.classList.contains("is-error")) message.textContent = LOADING;
      return;
    }
    const parsed = parse(input.value);
    if (parsed.ids && shown !== null && parsed.ids.join() === shown) return;
    shown = null;
    output.replaceChildren();
    stepper.replaceChildren();
    heads.replaceChildren();
    if (parsed.error) {
      message.textContent = parsed.error;
      message.classList.add("is-error");
      input.setAttribute("aria-invalid", "true");
      return;
    }
    input.removeAttribute("aria-invalid");
    message.classList.remove("is-error");
    source = parsed.ids;
    shown = source.join();
    const started = performance.now();
    steps = generate(source);
    const milliseconds = performance.now() - started;
    message.textContent = `Computed in this browser in ${milliseconds.toFixed(1)} ms ` +
      `(${steps.length} steps). Pick a step to see where each head of the decoder looked.`;
    const tokens = steps.map((step, i) => {
      const token = element("button", { type: "button", class: "live-model__token", "aria-pressed": "false" },
        name(step.token));
      token.addEventListener("click", () => showStep(i));
      token.addEventListener("focus", () => showStep(i));
      return token;
    });
    output.append(element("span", { class: "live-model__label" }, "Reversed: "), ...tokens);
    const slider = element("input", {
      type: "range", min: "0", max: String(steps.length - 1), value: "0", "aria-label": "Decoding step",
    });
    slider.addEventListener("input", () => showStep(Number(slider.value)));
    stepper.append(slider, element("span", { class: "live-model__step-label" }));
    showStep(0);
  }

  form.addEventListener("submit", run);
  input.addEventListener("input", () => { shown = null; });

  // Until the weights arrive the form waits, and says so.
  const LOADING = "Loading the model's weights… The model answers as soon as they arrive.";
  message.textContent = LOADING;
  root.setAttribute("aria-busy", "true");
  button.disabled = true;

  function failed(text) {
    message.textContent = text;
    message.classList.add("is-error");
    root.removeAttribute("aria-busy");
  }

  window.liveModel = {
    ready: fetch(root.dataset.weights)
      .then(response => {
        if (!response.ok) {
          throw new Error(`the server answered ${response.status}${response.statusText ? " " + response.statusText : ""}`);
        }
        return response.json().catch(() => { throw new Error("the file that arrived is not the model's weights"); });
      })
      .then(data => {
        model = Transformer.loadModel(data);
        window.liveModel.model = model;
        root.removeAttribute("aria-busy");
        button.disabled = false;
        run();
      })
      .catch(error => failed(`The model's weights could not be loaded (${error.message}). ` +
        "Reload the page to try again; the rest of the page works without them.")),
    parse: text => parse(text),
    generate,
  };
})();
