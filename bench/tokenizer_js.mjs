// tokenizer_js.mjs TOKENIZER_DIR TEXT_FILE -> "<MB/s> <n_tokens>": the JS port's encode
// throughput on the same text (best of 3, load excluded).
import fs from "node:fs";
import path from "node:path";
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../.oracle");
const { TokenizerLoader } = await import(path.join(root, "node_modules/@lenml/tokenizers/dist/main.mjs"));
const dir = process.argv[2];
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
});
const buf = fs.readFileSync(process.argv[3]);
const text = buf.toString("utf8");
let best = Infinity, n = 0;
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  n = tok.encode(text, { add_special_tokens: false }).length;
  best = Math.min(best, (performance.now() - t0) / 1000);
}
console.log(`${(buf.length / 1e6 / best).toFixed(2)} ${n}`);
