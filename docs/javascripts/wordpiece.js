// BERT's uncased tokenizer in plain JavaScript, for the attention explorer's own-sentence box: the steps of
// transformer_tutorial.data.wordpiece (clean, space out ideographs, strip accents, lower-case, split off
// punctuation, then WordPiece), over the vocab.txt of all-MiniLM-L6-v2. The browser tests check that it gives
// the ids of the Python tokenizer and of the `tokenizers` library on 200 texts.
"use strict";

(() => {
  const SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  const SPECIAL_SPLIT = /(\[PAD\]|\[UNK\]|\[CLS\]|\[SEP\]|\[MASK\])/;
  const CONTROL = /^\p{C}$/u; // Unicode's "Other" categories: Cc, Cf, Cs, Co, Cn
  const SPACE = /^\p{Zs}$/u;
  const PUNCTUATION = /^\p{P}$/u;
  const MARK = /\p{Mn}/gu; // the accents that NFD separates from their letters

  function isIdeograph(code) {
    // The CJK Unified Ideographs blocks: each ideograph becomes a word of its own
    return (code >= 0x4e00 && code <= 0x9fff) || (code >= 0x3400 && code <= 0x4dbf) ||
      (code >= 0x20000 && code <= 0x2a6df) || (code >= 0x2a700 && code <= 0x2b73f) ||
      (code >= 0x2b740 && code <= 0x2b81f) || (code >= 0x2b820 && code <= 0x2ceaf) ||
      (code >= 0xf900 && code <= 0xfaff) || (code >= 0x2f800 && code <= 0x2fa1f);
  }

  function isPunctuation(char) {
    // ASCII symbols such as $, + and ^ count too, though Unicode calls them symbols
    const code = char.codePointAt(0);
    if ((code >= 33 && code <= 47) || (code >= 58 && code <= 64) || (code >= 91 && code <= 96) ||
      (code >= 123 && code <= 126)) return true;
    return PUNCTUATION.test(char);
  }

  function basicTokenize(text) {
    // Clean, space out ideographs, strip accents, lower-case, split on spaces and punctuation
    let cleaned = "";
    for (const char of text) { // for … of walks code points, so an emoji stays one character
      const code = char.codePointAt(0);
      if (code === 0 || code === 0xfffd) continue;
      const white = char === " " || char === "\t" || char === "\n" || char === "\r" || SPACE.test(char);
      if (!white && CONTROL.test(char)) continue;
      if (isIdeograph(code)) cleaned += ` ${char} `;
      else cleaned += white ? " " : char;
    }
    const lowered = cleaned.normalize("NFD").replace(MARK, "").toLowerCase();
    const words = [];
    for (const chunk of lowered.split(/\s+/)) {
      let word = "";
      for (const char of chunk) {
        if (isPunctuation(char)) {
          if (word) words.push(word);
          words.push(char);
          word = "";
        } else {
          word += char;
        }
      }
      if (word) words.push(word);
    }
    return words;
  }

  class WordPiece {
    constructor(vocabulary, maxCharsPerWord = 100) {
      this.vocabulary = vocabulary;
      this.ids = new Map(vocabulary.map((token, id) => [token, id]));
      const missing = SPECIAL.filter(token => !this.ids.has(token));
      if (missing.length) throw new Error(`the vocabulary lacks the special tokens ${missing.join(", ")}`);
      this.maxCharsPerWord = maxCharsPerWord;
    }

    static fromText(text) {
      // vocab.txt: one token a line, in id order; the final newline ends the last line
      const lines = text.split("\n");
      if (lines.length && lines[lines.length - 1] === "") lines.pop();
      return new WordPiece(lines.map(line => line.replace(/\r$/, "")));
    }

    wordpiece(word) {
      // The longest vocabulary pieces, left to right; [UNK] for the whole word if that fails
      const chars = Array.from(word);
      if (chars.length > this.maxCharsPerWord) return ["[UNK]"];
      const pieces = [];
      let start = 0;
      while (start < chars.length) {
        let end = chars.length;
        let piece = null;
        while (end > start) {
          const candidate = (start === 0 ? "" : "##") + chars.slice(start, end).join("");
          if (this.ids.has(candidate)) { piece = candidate; break; }
          end -= 1;
        }
        if (piece === null) return ["[UNK]"];
        pieces.push(piece);
        start = end;
      }
      return pieces;
    }

    tokenize(text) {
      // [{token, id, word}]: each token with the word of the text it came from; no [CLS] or [SEP]
      const tokens = [];
      for (const part of text.split(SPECIAL_SPLIT)) {
        if (SPECIAL.includes(part)) {
          tokens.push({ token: part, id: this.ids.get(part), word: part });
          continue;
        }
        for (const word of basicTokenize(part)) {
          for (const token of this.wordpiece(word)) tokens.push({ token, id: this.ids.get(token), word });
        }
      }
      return tokens;
    }

    encode(text, maxLength) {
      // [CLS] text [SEP], cut to maxLength tokens ([SEP] kept last); `cut` counts the tokens left out
      const inner = this.tokenize(text);
      const keep = maxLength === undefined ? inner.length : Math.max(0, maxLength - 2);
      const special = name => ({ token: name, id: this.ids.get(name), word: name });
      return {
        tokens: [special("[CLS]"), ...inner.slice(0, keep), special("[SEP]")],
        cut: Math.max(0, inner.length - keep),
      };
    }
  }

  const exported = { WordPiece, basicTokenize };
  if (typeof window !== "undefined") window.wordpiece = exported;
  if (typeof module !== "undefined") module.exports = exported;
})();
