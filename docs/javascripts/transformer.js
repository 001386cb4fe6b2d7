// The encoder-decoder Transformer in plain JavaScript: the functions of transformer_tutorial.numpy, written a
// third time, for one sequence at a time (no batch axis). A matrix is an array of rows, each row an array of
// numbers; JavaScript numbers are float64, like the NumPy side. Masks mean true = may attend.
"use strict";

const Transformer = (() => {
  // --8<-- [start:basics]
  function matmul(a, b) {
    // (T, K) @ (K, N) -> (T, N)
    return a.map(row => b[0].map((_, n) => row.reduce((sum, value, k) => sum + value * b[k][n], 0)));
  }

  function linear(x, weight, bias) {
    // x @ weight + bias, the orientation of the NumPy side: weight is (in, out)
    return matmul(x, weight).map(row => row.map((value, n) => value + bias[n]));
  }

  function add(x, y) {
    return x.map((row, t) => row.map((value, n) => value + y[t][n]));
  }
  // --8<-- [end:basics]

  // --8<-- [start:softmax]
  function softmax(scores, allowed) {
    // One row of scores -> weights that sum to one; allowed[j] false gives weight 0,
    // and a row with nothing allowed gives zeros, never NaN. Subtracting the largest
    // score first keeps exp from overflowing.
    const may = j => allowed === undefined || allowed[j];
    const largest = Math.max(...scores.filter((_, j) => may(j)));
    if (largest === -Infinity) return scores.map(() => 0);
    const exps = scores.map((score, j) => (may(j) ? Math.exp(score - largest) : 0));
    const total = exps.reduce((sum, value) => sum + value, 0);
    return exps.map(value => value / total);
  }
  // --8<-- [end:softmax]

  // --8<-- [start:attention]
  function scaledDotProductAttention(query, key, value, mask) {
    // query (T, d), key (S, d), value (S, d_v), mask (T, S) or null
    // -> output (T, d_v) and weights (T, S)
    const scale = Math.sqrt(query[0].length);
    const weights = query.map((q, t) => {
      const scores = key.map(k => k.reduce((sum, kj, j) => sum + (q[j] / scale) * kj, 0));
      return softmax(scores, mask ? mask[t] : undefined);
    });
    return { output: matmul(weights, value), weights };
  }

  function multiHeadAttention(query, key, value, params, mask) {
    // query (T, D), key and value (S, D) -> output (T, D) and weights (H, T, S).
    // Head h reads features h·d … (h + 1)·d of every projected position: the split
    // is along the features, as in split_heads.
    const q = linear(query, params.w_q, params.b_q);
    const k = linear(key, params.w_k, params.b_k);
    const v = linear(value, params.w_v, params.b_v);
    const d = q[0].length / params.numHeads;
    const slice = h => row => row.slice(h * d, (h + 1) * d);
    const heads = [];
    const weights = [];
    for (let h = 0; h < params.numHeads; h++) {
      const [qh, kh, vh] = [q, k, v].map(m => m.map(slice(h)));
      const head = scaledDotProductAttention(qh, kh, vh, mask);
      heads.push(head.output);
      weights.push(head.weights);
    }
    // (T, D), head 0's features first
    const merged = q.map((_, t) => heads.flatMap(head => head[t]));
    return { output: linear(merged, params.w_o, params.b_o), weights };
  }

  function causalMask(length) {
    // (T, T): position t may attend to positions 0 … t
    return Array.from({ length }, (_, t) => Array.from({ length }, (_, s) => s <= t));
  }
  // --8<-- [end:attention]

  // --8<-- [start:layers]
  function layerNorm(x, params) {
    // Each row to mean 0 and variance 1 (the biased variance, eps inside the root),
    // then scaled and shifted
    const average = row => row.reduce((sum, value) => sum + value, 0) / row.length;
    return x.map(row => {
      const mean = average(row);
      const variance = average(row.map(value => (value - mean) ** 2));
      const scale = Math.sqrt(variance + params.eps);
      const { weight, bias } = params;
      return row.map((value, n) => ((value - mean) / scale) * weight[n] + bias[n]);
    });
  }

  function feedForward(x, params) {
    const relu = row => row.map(value => Math.max(value, 0));
    const hidden = linear(x, params.w_1, params.b_1).map(relu);
    return linear(hidden, params.w_2, params.b_2);
  }

  function addAndNorm(x, sublayer, norm) {
    // Post-norm, the paper's form: LayerNorm(x + sublayer(x))
    return layerNorm(add(x, sublayer(x)), norm);
  }

  function encoderLayer(x, layer) {
    const attend = h => multiHeadAttention(h, h, h, layer.self_attention, null).output;
    x = addAndNorm(x, attend, layer.norm_1);
    return addAndNorm(x, h => feedForward(h, layer.feed_forward), layer.norm_2);
  }

  function decoderLayer(y, memory, layer) {
    // Masked self-attention, cross-attention over the memory, feed-forward;
    // also returns the cross weights
    const mask = causalMask(y.length);
    const attend = h => multiHeadAttention(h, h, h, layer.self_attention, mask).output;
    y = addAndNorm(y, attend, layer.norm_1);
    let cross = null;
    y = addAndNorm(y, h => {
      const attended = multiHeadAttention(h, memory, memory, layer.cross_attention, null);
      cross = attended.weights;
      return attended.output;
    }, layer.norm_2);
    y = addAndNorm(y, h => feedForward(h, layer.feed_forward), layer.norm_3);
    return { y, cross };
  }
  // --8<-- [end:layers]

  // --8<-- [start:model]
  function sinusoidalEncoding(length, width) {
    // PE[t, 2i] = sin(t / 10000^(2i / D)), PE[t, 2i + 1] = cos(t / 10000^(2i / D)),
    // interleaved
    return Array.from({ length }, (_, t) =>
      Array.from({ length: width }, (_, n) => {
        const angle = t / 10000 ** ((n - (n % 2)) / width);
        return n % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
      }));
  }

  function embed(tokens, model) {
    // ids (T,) -> (T, D): embedding · √D + positional encoding
    const width = model.config.d_model;
    const table = sinusoidalEncoding(tokens.length, width);
    const scale = Math.sqrt(width);
    return tokens.map((id, t) =>
      model.embedding[id].map((value, n) => value * scale + table[t][n]));
  }

  function encode(src, model) {
    let x = embed(src, model);
    for (const layer of model.encoder) x = encoderLayer(x, layer);
    return x;
  }

  function decode(tgt, memory, model) {
    // Target ids (T,) -> the decoder's last hidden states (T, D) and each layer's
    // cross weights (H, T, S)
    let y = embed(tgt, model);
    const cross = [];
    for (const layer of model.decoder) {
      const out = decoderLayer(y, memory, layer);
      y = out.y;
      cross.push(out.cross);
    }
    return { hidden: y, cross };
  }

  function greedyGenerate(src, model, maxNewTokens) {
    // At every step run the decoder over the whole prefix and append the most
    // probable next token, until EOS. Each step keeps its token, its next-token
    // probabilities (V,) and its cross-attention (L, H, S).
    const memory = encode(src, model);
    const generated = [model.bos];
    const steps = [];
    for (let step = 0; step < maxNewTokens; step++) {
      const { hidden, cross } = decode(generated, memory, model);
      const last = hidden[hidden.length - 1];
      const dot = row => row.reduce((sum, value, n) => sum + value * last[n], 0);
      const logits = model.embedding.map(dot);
      const probabilities = softmax(logits);
      let chosen = 0;
      probabilities.forEach((p, id) => { if (p > probabilities[chosen]) chosen = id; });
      const here = cross.map(layer => layer.map(head => head[step])); // (L, H, S)
      steps.push({ token: chosen, probabilities, cross: here });
      generated.push(chosen);
      if (chosen === model.eos) break;
    }
    return steps;
  }
  // --8<-- [end:model]

  function readArray(entry) {
    // {"shape": [...], "float32": base64} -> nested arrays of float64 numbers
    const bytes = Uint8Array.from(atob(entry.float32), c => c.charCodeAt(0));
    const flat = Array.from(new Float32Array(bytes.buffer));
    const shape = entry.shape;
    if (shape.length === 1) return flat;
    return Array.from({ length: shape[0] }, (_, i) => flat.slice(i * shape[1], (i + 1) * shape[1]));
  }

  function loadModel(data) {
    // The stored file (transformer_tutorial.experiments.live_model) -> the parameters the functions above read
    const config = data.config;
    const get = name => readArray(data.tensors[name]);
    const attention = prefix => ({
      numHeads: config.num_heads,
      ...Object.fromEntries(["w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o"]
        .map(n => [n, get(`${prefix}.${n}`)])),
    });
    const norm = prefix => ({ weight: get(`${prefix}.weight`), bias: get(`${prefix}.bias`), eps: config.eps });
    const feedForwardParams = prefix => Object.fromEntries(["w_1", "b_1", "w_2", "b_2"]
      .map(n => [n, get(`${prefix}.${n}`)]));
    const layers = (side, parts) => Array.from({ length: config.num_layers }, (_, i) => Object.fromEntries(
      parts.map(part => {
        const prefix = `${side}.${i}.${part}`;
        if (part.endsWith("attention")) return [part, attention(prefix)];
        if (part === "feed_forward") return [part, feedForwardParams(prefix)];
        return [part, norm(prefix)];
      })));
    return {
      config,
      task: data.task,
      symbols: data.symbols,
      bos: data.ids.bos,
      eos: data.ids.eos,
      firstSymbol: data.ids.first_symbol,
      embedding: get("embedding"),
      encoder: layers("encoder", ["self_attention", "feed_forward", "norm_1", "norm_2"]),
      decoder: layers("decoder", ["self_attention", "cross_attention", "feed_forward", "norm_1", "norm_2", "norm_3"]),
    };
  }

  return { softmax, layerNorm, multiHeadAttention, sinusoidalEncoding, encode, decode, greedyGenerate, loadModel };
})();
