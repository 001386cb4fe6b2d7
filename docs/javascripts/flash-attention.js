// The FlashAttention stepper: NumPy's tiled_attention (transformer_tutorial.numpy.modern), replayed in float64
// on the example the site's build writes (transformer_tutorial.experiments.flash_stepper), one tile at a time.
// Every number shown carries its full value in data-value; the browser tests compare them with the steps that
// tiled_attention records, to 1e-12.
"use strict";

(() => {
  const root = document.getElementById("flash-stepper-app");
  if (!root) return;
  const element = window.element;

  // --8<-- [start:replay]
  function replay(query, key, value, blockSize, causal) {
    // tiled_attention, step by step: for each block of query rows, each block of
    // keys in turn; every row keeps its running maximum m, its running sum l and
    // its unnormalised output o
    const d = query[0].length;
    const q = query.map(row => row.map(x => x / Math.sqrt(d)));
    const dot = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);
    const range = (start, end) =>
      Array.from({ length: Math.min(blockSize, end - start) }, (_, i) => start + i);
    const allowed = (t, s) => !causal || s <= t;
    const steps = [];
    const output = [];
    for (let r0 = 0; r0 < query.length; r0 += blockSize) {
      const rows = range(r0, query.length);
      let m = rows.map(() => -Infinity);
      let l = rows.map(() => 0);
      let o = rows.map(() => value[0].map(() => 0));
      for (let c0 = 0; c0 < key.length; c0 += blockSize) {
        const cols = range(c0, key.length);
        if (!rows.some(t => cols.some(s => allowed(t, s)))) {
          steps.push({ rows, cols, skipped: true }); // the mask hides the whole tile
          continue;
        }
        const scores = rows.map(t =>
          cols.map(s => (allowed(t, s) ? dot(q[t], key[s]) : -Infinity)));
        const previous = m;
        m = rows.map((_, i) => Math.max(previous[i], ...scores[i]));
        const shift = m.map(x => (Number.isFinite(x) ? x : 0));
        // exp(m_old - m_new): what the old sum and output are multiplied by
        const rescale = rows.map((_, i) => Math.exp(previous[i] - shift[i]));
        const exps = scores.map((row, i) => row.map(x => Math.exp(x - shift[i])));
        l = rows.map((_, i) => l[i] * rescale[i] + exps[i].reduce((a, b) => a + b));
        o = rows.map((_, i) => o[i].map((x, k) =>
          x * rescale[i] + dot(exps[i], cols.map(s => value[s][k]))));
        steps.push({
          rows, cols, skipped: false, scores, previous, max: m, rescale, sum: l,
          accumulated: o,
        });
      }
      rows.forEach((t, i) => {
        output[t] = o[i].map(x => x / (l[i] > 0 ? l[i] : 1));
      });
    }
    return { steps, output };
  }
  // --8<-- [end:replay]

  function explicit(query, key, value, causal) {
    // softmax(Q Kᵀ / √d) V, the whole score matrix at once
    const d = query[0].length;
    return query.map((qt, t) => {
      const scores = key.map((ks, s) =>
        (!causal || s <= t ? qt.reduce((sum, x, i) => sum + (x / Math.sqrt(d)) * ks[i], 0) : -Infinity));
      const top = Math.max(...scores);
      const exps = scores.map(x => Math.exp(x - top));
      const total = exps.reduce((a, b) => a + b, 0);
      return value[0].map((_, k) => exps.reduce((sum, e, s) => sum + (e / total) * value[s][k], 0));
    });
  }

  let data = null;
  const state = { blockSize: 2, causal: false, step: 0 };
  let run = null; // the replay for the current settings

  const number = (x, kind, extra = {}) => element("span", {
    class: `flash__number flash__number--${kind}`, "data-kind": kind, "data-value": String(x), ...extra,
  }, Number.isFinite(x) ? x.toFixed(3) : x < 0 ? "−∞" : "∞");

  // The controls
  const sizeSelect = element("select", { id: "flash-tile" });
  const causalBox = element("input", { id: "flash-causal", type: "checkbox" });
  const first = element("button", { type: "button", class: "flash__button", "aria-label": "First step" }, "« First");
  const back = element("button", { type: "button", class: "flash__button", "aria-label": "Previous step" }, "◀ Back");
  const next = element("button", { type: "button", class: "flash__button", "aria-label": "Next step" }, "Next ▶");
  const last = element("button", { type: "button", class: "flash__button", "aria-label": "Last step" }, "Last »");
  const controls = element("div", { class: "flash__controls" },
    element("label", { for: "flash-tile" }, "Tile size"), sizeSelect,
    element("label", { class: "flash__toggle" }, causalBox, " Causal mask"),
    element("span", { class: "flash__buttons" }, first, back, next, last));
  const label = element("p", { class: "flash__label", "aria-live": "polite" });
  const grid = element("div", { class: "flash__scores" });
  const rowsTable = element("div", { class: "flash__rows" });
  const result = element("div", { class: "flash__result" });
  const view = element("div", { class: "flash__view", tabindex: "0",
    "aria-label": "FlashAttention steps: the arrow keys go back and forward" }, label, grid, rowsTable, result);

  function describe(step, index) {
    const span = list => (list.length === 1 ? `${list[0]}` : `${list[0]}–${list[list.length - 1]}`);
    const where = step ? `query rows ${span(step.rows)}, keys ${span(step.cols)}` : "";
    const total = run.steps.length + 1;
    if (!step) return `Step ${index + 1} of ${total}: every row's o divided by its sum ℓ gives the output.`;
    if (step.skipped) {
      return `Step ${index + 1} of ${total}: ${where}. Skipped: the causal mask hides every score of this tile, ` +
        "so it is never read.";
    }
    const raised = step.rows.filter((_, i) => Number.isFinite(step.previous[i]) && step.rescale[i] < 1);
    const news = raised.length
      ? ` The maximum rises for row${raised.length > 1 ? "s" : ""} ${raised.join(", ")}: ` +
        "the old sum and output are multiplied by exp(m_old − m_new) before this tile is added."
      : " No row's maximum rises: the old sum and output are kept as they are.";
    return `Step ${index + 1} of ${total}: ${where}.${news}`;
  }

  function drawScores(index, final) {
    // The 8 × 8 scores: tiles read so far show their scores, the current one is framed, skipped ones hatched
    const T = data.query.length;
    const S = data.key.length;
    const cells = Array.from({ length: T }, () => Array(S).fill(null));
    run.steps.slice(0, index + 1).forEach((step, n) => step.rows.forEach((t, i) => step.cols.forEach((s, j) => {
      cells[t][s] = { step, n, value: step.skipped ? null : step.scores[i][j] };
    })));
    const table = element("table", { class: "flash__table" },
      element("caption", {}, "Scores a = q·k / √d: rows are queries, columns keys."));
    table.append(element("tr", {}, element("th", {}, ""),
      ...Array.from({ length: S }, (_, s) => element("th", { scope: "col" }, `k${s}`))));
    for (let t = 0; t < T; t++) {
      const row = element("tr", {}, element("th", { scope: "row" }, `q${t}`));
      for (let s = 0; s < S; s++) {
        const cell = cells[t][s];
        const classes = ["flash__cell"];
        let content = "";
        if (cell) {
          const current = cell.n === index && !final;
          classes.push(current ? "is-current" : "is-read");
          if (cell.step.skipped) {
            classes.push("is-skipped");
            content = current ? "skip" : "";
          } else if (current) {
            content = number(cell.value, "score", { "data-row": t, "data-col": s });
          } else {
            content = Number.isFinite(cell.value) ? cell.value.toFixed(2) : "−∞";
          }
        }
        row.append(element("td", { class: classes.join(" ") }, content));
      }
      table.append(row);
    }
    grid.replaceChildren(table);
  }

  function rowState(index) {
    // Each query row's m, l and o after step `index`: the state of the last tile that row has read
    const state = new Map();
    run.steps.slice(0, index + 1).forEach(step => {
      if (step.skipped) return;
      step.rows.forEach((t, i) => state.set(t, {
        step, previous: step.previous[i], max: step.max[i], rescale: step.rescale[i], sum: step.sum[i],
        accumulated: step.accumulated[i],
      }));
    });
    return state;
  }

  function drawRows(index) {
    const current = run.steps[index];
    const states = rowState(Math.min(index, run.steps.length - 1));
    const table = element("table", { class: "flash__table flash__table--rows" },
      element("caption", {}, "What each query row keeps: its largest score m, the sum ℓ of exp(a − m) and the unnormalised output " +
        "o = Σ exp(a − m) v."));
    table.append(element("tr", {}, ...["row", "m", "exp(m_old − m)", "ℓ", "o (unnormalised)"].map(name =>
      element("th", { scope: "col" }, name))));
    data.query.forEach((_, t) => {
      const s = states.get(t);
      const active = current && !current.skipped && current.rows.includes(t);
      const row = element("tr", { class: active ? "is-current" : "" }, element("th", { scope: "row" }, `q${t}`));
      if (!s) {
        row.append(element("td", { colspan: "4", class: "flash__empty" }, "nothing read yet"));
      } else if (active) {
        const raised = Number.isFinite(s.previous) && s.rescale < 1;
        row.append(
          element("td", {}, number(s.max, "max", { "data-row": t })),
          element("td", { class: raised ? "is-rescaled" : "" }, number(s.rescale, "rescale", { "data-row": t })),
          element("td", {}, number(s.sum, "sum", { "data-row": t })),
          element("td", {}, ...s.accumulated.map((x, k) => number(x, "accumulated", { "data-row": t, "data-col": k }))));
      } else {
        // kept from an earlier step: shown, not re-checked as this step's numbers
        row.append(element("td", {}, s.max.toFixed(3)), element("td", {}, ""),
          element("td", {}, s.sum.toFixed(3)), element("td", {}, s.accumulated.map(x => x.toFixed(3)).join("  ")));
      }
      table.append(row);
    });
    rowsTable.replaceChildren(table);
  }

  function drawResult(index) {
    if (index < run.steps.length) {
      result.replaceChildren();
      return;
    }
    const exact = explicit(data.query, data.key, data.value, state.causal);
    const matrix = (name, kind, rows) => element("table", { class: "flash__table" },
      element("caption", {}, name),
      ...rows.map((row, t) => element("tr", {}, element("th", { scope: "row" }, `q${t}`),
        ...row.map((x, k) => element("td", {}, number(x, kind, { "data-row": t, "data-col": k }))))));
    const largest = Math.max(...run.output.flatMap((row, t) => row.map((x, k) => Math.abs(x - exact[t][k]))));
    result.replaceChildren(
      element("div", { class: "flash__pair" },
        matrix("Tiled: o / ℓ, row by row", "output", run.output),
        matrix("Explicit: softmax(QKᵀ/√d) V", "explicit", exact)),
      element("p", {}, `The largest difference between the two is ${largest.toExponential(1)}: rounding, nothing ` +
        "more."));
  }

  function show(change = {}) {
    const settingsChanged = (change.blockSize !== undefined && change.blockSize !== state.blockSize) ||
      (change.causal !== undefined && change.causal !== state.causal);
    Object.assign(state, change);
    if (settingsChanged || run === null) {
      run = replay(data.query, data.key, data.value, state.blockSize, state.causal);
      if (change.step === undefined) state.step = 0;
    }
    state.step = Math.max(0, Math.min(run.steps.length, state.step));
    sizeSelect.value = String(state.blockSize);
    causalBox.checked = state.causal;
    first.disabled = back.disabled = state.step === 0;
    next.disabled = last.disabled = state.step === run.steps.length;
    label.textContent = describe(run.steps[state.step], state.step);
    drawScores(Math.min(state.step, run.steps.length - 1), state.step === run.steps.length);
    drawRows(state.step);
    drawResult(state.step);
  }

  function start(loaded) {
    data = loaded;
    state.blockSize = data.tile_sizes[0];
    sizeSelect.append(...data.tile_sizes.map(size => element("option", { value: size }, `${size} × ${size}`)));
    sizeSelect.addEventListener("change", () => show({ blockSize: Number(sizeSelect.value) }));
    causalBox.addEventListener("change", () => show({ causal: causalBox.checked }));
    first.addEventListener("click", () => show({ step: 0 }));
    back.addEventListener("click", () => show({ step: state.step - 1 }));
    next.addEventListener("click", () => show({ step: state.step + 1 }));
    last.addEventListener("click", () => show({ step: run.steps.length }));
    view.addEventListener("keydown", event => {
      const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const step = moves[event.key] === -Infinity ? 0 : moves[event.key] === Infinity ? run.steps.length
        : state.step + moves[event.key];
      show({ step });
    });
    root.replaceChildren(controls, view);
    show();
  }

  root.replaceChildren(element("p", { class: "flash__loading" }, "Loading the example…"));
  window.flashStepper = {
    ready: fetch(root.dataset.src)
      .then(response => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json();
      })
      .then(start)
      .catch(error => {
        root.replaceChildren(element("p", { class: "flash__error" },
          `The example could not be read (${error.message}); the code below computes the same steps.`));
        throw error;
      }),
    show: change => show(change),
    state: () => ({ ...state, steps: run ? run.steps.length + 1 : 0 }),
    shown: () => Array.from(root.querySelectorAll("[data-value]"), node => ({
      kind: node.dataset.kind, row: Number(node.dataset.row), col: node.dataset.col === undefined ? null
        : Number(node.dataset.col), value: Number(node.dataset.value),
    })),
  };
})();
