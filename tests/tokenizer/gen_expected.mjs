// gen_expected.mjs CORPUS.jsonl > expected.jsonl — expected ids from the JS port of HF
// tokenizers (@lenml/tokenizers = transformers.js) for each tokenizer.json, with special-
// token parsing ("ids") and with split-special ("ids_split": the port has no
// split_special_tokens, so it runs on the same tokenizer.json with the special entries of
// added_tokens removed, which leaves only non-special added tokens matched).
// Output lines: {"text", "<name>": {"ids": [...], "ids_split": [...]}} for
// deepseek-v3, qwen2, llama-bpe.
import fs from "node:fs";
import path from "node:path";
const root = process.env.ORACLE || path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../.oracle");
const { TokenizerLoader } = await import(path.join(root, "node_modules/@lenml/tokenizers/dist/main.mjs"));
const load = (tokenizerJSON, tokenizerConfig) => TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
const names = { "deepseek-v3": "tokenizer-deepseek_v3", "qwen2": "tokenizer-qwen3", "llama-bpe": "tokenizer-llama3_1" };
const toks = {};
for (const [n, pkg] of Object.entries(names)) {
  const dir = path.join(root, "node_modules/@lenml", pkg, "models");
  const tj = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const tc = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  const tjs = { ...tj, added_tokens: tj.added_tokens.filter((t) => !t.special) };
  toks[n] = [load(tj, tc), load(tjs, tc)];
}
const lines = fs.readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.trim());
for (const l of lines) {
  const { text } = JSON.parse(l);
  const o = { text };
  for (const [n, [a, b]] of Object.entries(toks))
    o[n] = { ids: a.encode(text, { add_special_tokens: false }), ids_split: b.encode(text, { add_special_tokens: false }) };
  process.stdout.write(JSON.stringify(o) + "\n");
}
