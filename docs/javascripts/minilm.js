// all-MiniLM-L6-v2 in plain JavaScript, for the attention explorer's own-sentence box: the encoder of
// transformer_tutorial.numpy.encoder_only (embeddings, then six post-norm layers with GELU), on one sentence,
// in float64 typed arrays. The weights are the int8 file the site's build writes (one scale per row,
// transformer_tutorial.experiments.browser_encoder); the browser tests check that this gives NumPy's attention
// weights and sentence embedding on the same file to 1e-5.
"use strict";

(() => {
  function readSafetensors(buffer) {
    // The safetensors format: 8 bytes of header length, the JSON header, then the raw little-endian data
    const view = new DataView(buffer);
    const length = Number(view.getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
    const start = 8 + length;
    const tensors = {};
    for (const [name, entry] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const [from, to] = entry.data_offsets;
      const bytes = buffer.slice(start + from, start + to); // a copy: always aligned for Float32Array
      const Type = { I8: Int8Array, F32: Float32Array }[entry.dtype];
      if (!Type) throw new Error(`${name}: the type ${entry.dtype} is not one this page reads`);
      tensors[name] = { data: new Type(bytes), shape: entry.shape };
    }
    return { tensors, metadata: header.__metadata__ || {} };
  }

  function erf(x) {
    // The error function to double precision, for the exact GELU of the NumPy side (JavaScript has none).
    // Small |x|: a series of positive terms, erf(x) = 2/√π · e^(-x²) · Σ (2x²)ⁿ x / (1·3·…·(2n+1)).
    // Large |x|: the continued fraction of erfc(x) (Lentz's method).
    const sign = x < 0 ? -1 : 1;
    const a = Math.abs(x);
    if (a < 3) {
      let term = a;
      let sum = a;
      for (let n = 1; term > sum * 1e-17; n++) {
        term *= (2 * a * a) / (2 * n + 1);
        sum += term;
      }
      return sign * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
    }
    if (a > 27) return sign; // erfc(27) < 1e-300
    // erfc(a) = e^(-a²)/√π · 1 / (a + (1/2) / (a + 1 / (a + (3/2) / (a + 2 / (a + …)))))
    const tiny = 1e-300;
    let f = a;
    let c = a;
    let d = 0;
    for (let n = 1; n < 200; n++) {
      const k = n / 2;
      d = a + k * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = a + k / c;
      if (Math.abs(c) < tiny) c = tiny;
      const delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    return sign * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
  }

  class MiniLM {
    constructor(buffer) {
      const { tensors, metadata } = readSafetensors(buffer);
      this.tensors = tensors;
      this.layers = Number(metadata.layers);
      this.heads = Number(metadata.heads);
      this.width = Number(metadata.d_model);
      this.eps = Number(metadata.eps);
      this.maxLength = Number(metadata.max_length);
      const missing = ["embeddings.word_embeddings.weight", `encoder.layer.${this.layers - 1}.output.dense.weight`]
        .filter(name => !(name in tensors));
      if (!this.layers || missing.length) throw new Error("the file is not the explorer's int8 MiniLM");
    }

    row(name, r) {
      // Row r of an int8 matrix, as float64: q[r] · scale[r]
      const { data, shape } = this.tensors[name];
      const scale = this.tensors[`${name}.scale`].data[r];
      const out = new Float64Array(shape[1]);
      for (let c = 0; c < shape[1]; c++) out[c] = data[r * shape[1] + c] * scale;
      return out;
    }

    linear(x, rows, name) {
      // x (rows, in) -> x Wᵀ + b (rows, out). W is stored (out, in) as int8 with a scale per output row, so
      // output o is scale[o] · (x · q[o]) + b[o]: the int8 row is read as it is, never expanded
      const { data, shape } = this.tensors[`${name}.weight`];
      const scale = this.tensors[`${name}.weight.scale`].data;
      const bias = this.tensors[`${name}.bias`].data;
      const [outs, ins] = shape;
      const y = new Float64Array(rows * outs);
      // Four tokens at a time: each weight is read once for four of them (about three times faster)
      let t = 0;
      for (; t + 4 <= rows; t += 4) {
        const a0 = t * ins;
        const a1 = a0 + ins;
        const a2 = a1 + ins;
        const a3 = a2 + ins;
        for (let o = 0; o < outs; o++) {
          const w = o * ins;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let i = 0; i < ins; i++) {
            const q = data[w + i];
            s0 += x[a0 + i] * q;
            s1 += x[a1 + i] * q;
            s2 += x[a2 + i] * q;
            s3 += x[a3 + i] * q;
          }
          y[t * outs + o] = s0 * scale[o] + bias[o];
          y[(t + 1) * outs + o] = s1 * scale[o] + bias[o];
          y[(t + 2) * outs + o] = s2 * scale[o] + bias[o];
          y[(t + 3) * outs + o] = s3 * scale[o] + bias[o];
        }
      }
      for (; t < rows; t++) {
        const base = t * ins;
        for (let o = 0; o < outs; o++) {
          const w = o * ins;
          let sum = 0;
          for (let i = 0; i < ins; i++) sum += x[base + i] * data[w + i];
          y[t * outs + o] = sum * scale[o] + bias[o];
        }
      }
      return y;
    }

    layerNorm(x, rows, name) {
      // Each row to mean 0 and variance 1 (divided by D), then γ and β, as layer_norm does
      const gamma = this.tensors[`${name}.weight`].data;
      const beta = this.tensors[`${name}.bias`].data;
      const D = this.width;
      const y = new Float64Array(rows * D);
      for (let t = 0; t < rows; t++) {
        let mean = 0;
        for (let i = 0; i < D; i++) mean += x[t * D + i];
        mean /= D;
        let variance = 0;
        for (let i = 0; i < D; i++) variance += (x[t * D + i] - mean) ** 2;
        const norm = Math.sqrt(variance / D + this.eps);
        for (let i = 0; i < D; i++) y[t * D + i] = ((x[t * D + i] - mean) / norm) * gamma[i] + beta[i];
      }
      return y;
    }

    embed(ids) {
      // LayerNorm(word + position + token type 0), as embed does
      const D = this.width;
      const x = new Float64Array(ids.length * D);
      const type = this.row("embeddings.token_type_embeddings.weight", 0);
      ids.forEach((id, t) => {
        const word = this.row("embeddings.word_embeddings.weight", id);
        const position = this.row("embeddings.position_embeddings.weight", t);
        for (let i = 0; i < D; i++) x[t * D + i] = word[i] + position[i] + type[i];
      });
      return this.layerNorm(x, ids.length, "embeddings.LayerNorm");
    }

    attention(x, T, prefix, weights) {
      // Multi-head self-attention on one sentence (no padding, so no mask); writes the (H, T, T) weights
      const D = this.width;
      const H = this.heads;
      const d = D / H;
      const q = this.linear(x, T, `${prefix}.attention.self.query`);
      const k = this.linear(x, T, `${prefix}.attention.self.key`);
      const v = this.linear(x, T, `${prefix}.attention.self.value`);
      const context = new Float64Array(T * D);
      const scale = Math.sqrt(d);
      const scores = new Float64Array(T);
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          let largest = -Infinity;
          for (let s = 0; s < T; s++) {
            let sum = 0;
            for (let j = 0; j < d; j++) sum += q[t * D + h * d + j] * k[s * D + h * d + j];
            scores[s] = sum / scale;
            if (scores[s] > largest) largest = scores[s];
          }
          let total = 0;
          for (let s = 0; s < T; s++) {
            scores[s] = Math.exp(scores[s] - largest);
            total += scores[s];
          }
          const row = weights.subarray((h * T + t) * T, (h * T + t + 1) * T);
          for (let s = 0; s < T; s++) row[s] = scores[s] / total;
          for (let s = 0; s < T; s++) {
            for (let j = 0; j < d; j++) context[t * D + h * d + j] += row[s] * v[s * D + h * d + j];
          }
        }
      }
      return this.linear(context, T, `${prefix}.attention.output.dense`);
    }

    layer(x, T, l, weights) {
      // One post-norm encoder layer: x + attention, LayerNorm; + feed-forward with GELU, LayerNorm
      const prefix = `encoder.layer.${l}`;
      const D = this.width;
      const attended = this.attention(x, T, prefix, weights);
      for (let i = 0; i < T * D; i++) attended[i] += x[i];
      const y = this.layerNorm(attended, T, `${prefix}.attention.output.LayerNorm`);
      const hidden = this.linear(y, T, `${prefix}.intermediate.dense`);
      for (let i = 0; i < hidden.length; i++) hidden[i] = 0.5 * hidden[i] * (1 + erf(hidden[i] / Math.SQRT2));
      const out = this.linear(hidden, T, `${prefix}.output.dense`);
      for (let i = 0; i < T * D; i++) out[i] += y[i];
      return this.layerNorm(out, T, `${prefix}.output.LayerNorm`);
    }

    async run(ids, onLayer = () => {}) {
      // ids -> {attention: (L, H, T, T) Float64Array, embedding: (D,) of unit length}. Between layers it
      // hands the page back to the browser, so that a progress message can be drawn.
      const T = ids.length;
      const D = this.width;
      if (T < 1 || T > this.maxLength) throw new RangeError(`a sentence has 1 to ${this.maxLength} tokens, not ${T}`);
      const attention = new Float64Array(this.layers * this.heads * T * T);
      let x = this.embed(ids);
      for (let l = 0; l < this.layers; l++) {
        onLayer(l);
        await new Promise(resolve => setTimeout(resolve, 0));
        const size = this.heads * T * T;
        x = this.layer(x, T, l, attention.subarray(l * size, (l + 1) * size));
      }
      // Mean over the tokens, then unit length: sentence_embedding
      const embedding = new Float64Array(D);
      for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) embedding[i] += x[t * D + i] / T;
      const norm = Math.hypot(...embedding);
      for (let i = 0; i < D; i++) embedding[i] /= Math.max(norm, 1e-12);
      return { attention, embedding };
    }
  }

  const exported = { MiniLM, readSafetensors, erf };
  if (typeof window !== "undefined") window.minilm = exported;
  if (typeof module !== "undefined") module.exports = exported;

  // Started as a Web Worker (explorer-sentence.js does so), the encoder runs off the page's thread, so that a long
  // text never freezes the page. {weights} builds it and answers its sizes; {job, ids} runs one text, reporting
  // each layer, then sends the result; a failure is sent back as {job, error}.
  if (typeof window === "undefined" && typeof importScripts === "function") {
    let encoder = null;
    self.onmessage = async ({ data }) => {
      try {
        if (data.weights) {
          encoder = new MiniLM(data.weights);
          const { layers, heads, maxLength } = encoder;
          self.postMessage({ ready: { layers, heads, maxLength } });
          return;
        }
        const result = await encoder.run(data.ids, layer => self.postMessage({ job: data.job, layer }));
        self.postMessage({ job: data.job, result }, [result.attention.buffer, result.embedding.buffer]);
      } catch (error) {
        self.postMessage({ job: data.job, error: error.message });
      }
    };
  }
})();
