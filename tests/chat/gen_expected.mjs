// gen_expected.mjs — renders tests/chat/conversations.json with the real DeepSeek chat
// templates (tests/chat/*.jinja, see SOURCES.md) through @huggingface/jinja, a Jinja
// engine nobody here wrote. Writes <outdir>/<r1 template name>--<case>.txt.
// usage: node tests/chat/gen_expected.mjs [outdir]   (default tests/chat/expected)
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../.oracle/package.json"));
const { Template } = await import(require.resolve("@huggingface/jinja"));

const out = process.argv[2] || join(here, "expected");
mkdirSync(out, { recursive: true });
const templates = { "v3": "deepseek-v3.jinja", "r1": "deepseek-r1.jinja", "r1-distill": "deepseek-r1-distill.jinja", "r1-0528": "deepseek-r1-0528.jinja" };
const cases = JSON.parse(readFileSync(join(here, "conversations.json"), "utf8"));
let n = 0;
for (const [name, file] of Object.entries(templates)) {
  const tpl = new Template(readFileSync(join(here, file), "utf8"));
  for (const c of cases) {
    const text = tpl.render({ messages: c.messages, add_generation_prompt: c.gen,
                              bos_token: "<｜begin▁of▁sentence｜>", eos_token: "<｜end▁of▁sentence｜>" });
    writeFileSync(join(out, `${name}--${c.name}.txt`), text);
    n++;
  }
}
console.log(`${n} expected prompts written to ${out}`);
