// The attention explorer's own-sentence box: the reader types a sentence, the page downloads all-MiniLM-L6-v2
// (int8 weights and vocabulary, only when asked), tokenises the sentence (wordpiece.js), runs the six layers
// (minilm.js, in a Web Worker) and hands the 72 heads to the explorer (attention-explorer.js), which shows them
// as it shows the stored sentences.
"use strict";

(() => {
  const root = document.getElementById("attention-explorer-app");
  const explorer = window.attentionExplorer;
  if (!root || !explorer) return;

  const element = window.element;
  const megabytes = bytes => `${(bytes / 1e6).toFixed(1)} MB`;

  const input = element("input", {
    id: "explorer-text", type: "text", autocomplete: "off", spellcheck: "false",
    placeholder: "The trophy did not fit in the suitcase because it was too big.",
    "aria-describedby": "explorer-own-status",
  });
  const button = element("button", { type: "submit", class: "md-button md-button--primary" }, "Run it");
  const progress = element("progress", { class: "explorer__progress", max: "1", value: "0", hidden: "" });
  const status = element("p", { id: "explorer-own-status", class: "explorer__own-status", role: "status" });
  const form = element("form", { class: "explorer__own" },
    element("label", { for: "explorer-text" }, "Your own sentence"), input, button, progress, status);

  let model = null; // {tokenizer, encoder} once downloaded
  let loading = null; // the download in progress
  let pending = null; // the text (and the head) to run when the download ends
  let running = false;

  function say(message, problem = false) {
    status.textContent = message;
    status.classList.toggle("is-problem", problem);
    input.setAttribute("aria-invalid", String(problem));
  }

  async function download(url, onBytes) {
    // The body of `url`, counting its bytes as they arrive
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${url.split("/").pop()}`);
    const reader = response.body.getReader();
    const chunks = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
      onBytes(value.length);
    }
    const whole = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) { whole.set(chunk, at); at += chunk.length; }
    return whole.buffer;
  }

  const encoderScript = document.querySelector('script[src*="minilm.js"]').src;

  function startEncoder(weights) {
    // The encoder in a Web Worker (minilm.js started as one): the same sizes and the same run(ids, onLayer),
    // answered by messages. The weights move to the worker rather than being copied.
    const worker = new Worker(encoderScript);
    const jobs = new Map();
    let next = 0;
    return new Promise((resolve, reject) => {
      const encoder = {
        run(ids, onLayer = () => {}) {
          const job = next++;
          return new Promise((done, fail) => {
            jobs.set(job, { done, fail, onLayer });
            worker.postMessage({ job, ids: Array.from(ids) });
          });
        },
      };
      worker.onmessage = ({ data }) => {
        if (data.ready) {
          resolve(Object.assign(encoder, data.ready));
          return;
        }
        const job = jobs.get(data.job);
        if (!job) {
          if (data.error) reject(new Error(data.error)); // the weights did not make an encoder
          return;
        }
        if (data.layer !== undefined) {
          job.onLayer(data.layer);
          return;
        }
        jobs.delete(data.job);
        if (data.error) job.fail(new Error(data.error));
        else job.done(data.result);
      };
      worker.onerror = event => {
        event.preventDefault();
        const error = new Error(event.message || "the encoder stopped");
        reject(error);
        for (const job of jobs.values()) job.fail(error);
        jobs.clear();
      };
      worker.postMessage({ weights }, [weights]);
    });
  }

  function load() {
    // Download the vocabulary and the weights once; a failed download can be tried again
    if (loading) return loading;
    const info = explorer.data().model;
    const total = info.weights_bytes + info.vocabulary_bytes;
    let received = 0;
    const count = bytes => {
      received += bytes;
      progress.value = received / total;
      say(`Downloading the model: ${megabytes(received)} of ${megabytes(total)}…`);
    };
    progress.hidden = false;
    progress.value = 0;
    const base = new URL(root.dataset.src, location.href);
    const started = performance.now();
    loading = Promise.all([
      download(new URL(info.vocabulary, base).href, count),
      download(new URL(info.weights, base).href, count),
    ]).then(async ([vocabulary, weights]) => {
      model = {
        tokenizer: window.wordpiece.WordPiece.fromText(new TextDecoder().decode(vocabulary)),
        encoder: await startEncoder(weights),
        seconds: (performance.now() - started) / 1000,
      };
      progress.hidden = true;
      return model;
    }).catch(error => {
      loading = null;
      progress.hidden = true;
      say(`The model could not be downloaded (${error.message}). The stored sentences still work; ` +
        "press Run it to try again.", true);
      throw error;
    });
    return loading;
  }

  function describe(encoded, unknown) {
    // What the reader should know about how their text was read
    const parts = [`${encoded.tokens.length} tokens, [CLS] and [SEP] included.`];
    if (encoded.cut) {
      parts.push(`The model reads at most ${model.encoder.maxLength} tokens, so the last ${encoded.cut} ` +
        "were left out.");
    }
    if (unknown.length) {
      parts.push(`Not in the vocabulary, so read as [UNK]: ${unknown.map(word => `"${word}"`).join(", ")}.`);
    }
    return parts.join(" ");
  }

  async function run(text, view = {}) {
    // Tokenise, run the encoder, and show the result in the explorer
    const encoded = model.tokenizer.encode(text, model.encoder.maxLength);
    const ids = encoded.tokens.map(token => token.id);
    const started = performance.now();
    const report = layer => say(`Running layer ${layer + 1} of ${model.encoder.layers}…`);
    report(0); // at once: the worker's own report of layer 1 arrives a moment later
    const { attention, embedding } = await model.encoder.run(ids, report);
    const milliseconds = performance.now() - started;
    const unknown = [...new Set(encoded.tokens.filter(t => t.token === "[UNK]").map(t => t.word))];
    const note = describe(encoded, unknown);
    explorer.addSentence({
      text, attention, embedding, note,
      tokens: encoded.tokens.map(token => token.token),
      words: encoded.tokens.map(token => token.word),
    }, view);
    say(`${note} Six layers in ${Math.round(milliseconds)} ms, in this browser.`, false);
    status.classList.toggle("is-warning", encoded.cut > 0 || unknown.length > 0);
    return { ids, milliseconds };
  }

  async function submit(text, view = {}) {
    if (!text.trim()) {
      say("Type a sentence first: the box is empty.", true);
      return null;
    }
    // An address's sentence keeps the head the address named
    pending = { text, view: pending && pending.text === text && !Object.keys(view).length ? pending.view : view };
    if (!model) {
      const first = !loading;
      if (!first) {
        say(`Still downloading the model (${Math.round(100 * progress.value)} %): your sentence runs as soon ` +
          "as it arrives.");
      }
      await load();
    }
    if (running || !pending) return null; // the run already under way takes the latest text when it ends
    running = true;
    button.disabled = true;
    let result = null;
    try {
      while (pending) {
        const next = pending;
        pending = null;
        result = await run(next.text, next.view);
      }
    } catch (error) {
      say(`Your sentence could not be run (${error.message}).`, true);
    } finally {
      running = false;
      button.disabled = false;
    }
    return result;
  }

  form.addEventListener("submit", event => {
    event.preventDefault();
    submit(input.value).catch(() => {}); // a failed download has already said so
  });

  // An address that names a reader's sentence (#text=…): offer to run it; run it at once if the model is here
  explorer.onMissingText((text, view) => {
    input.value = text;
    if (model) {
      submit(text, view);
    } else {
      pending = { text, view };
      say("This link names a sentence of its own. Press Run it to download the model " +
        `(${megabytes(explorer.data().model.weights_bytes + explorer.data().model.vocabulary_bytes)}) ` +
        "and see its heads.");
    }
  });

  explorer.ready.then(() => {
    const info = explorer.data().model;
    root.prepend(form);
    if (!status.textContent) {
      say(`The encoder runs in your browser. Its weights (${megabytes(info.weights_bytes)}, int8) and vocabulary ` +
        `(${megabytes(info.vocabulary_bytes)}) download the first time you press Run it.`);
    }
  }).catch(() => form.remove());

  window.explorerSentence = {
    submit: (text, view) => submit(text, view),
    load: () => load(),
    // For the browser tests: the tokenizer and the encoder themselves, once downloaded
    model: () => model,
    tokenize: texts => texts.map(text => model.tokenizer.encode(text, model.encoder.maxLength).tokens.map(t => t.id)),
    encode: async ids => {
      const started = performance.now();
      const { attention, embedding } = await model.encoder.run(ids);
      return { attention: Array.from(attention), embedding: Array.from(embedding),
        milliseconds: performance.now() - started };
    },
  };
})();
