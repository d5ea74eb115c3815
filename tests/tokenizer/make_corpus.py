#!/usr/bin/env python3
"""make_corpus.py > corpus.jsonl — the tokenizer test corpus (>= 300 strings, deterministic):
every script (NFC and NFD Latin), emoji kinds, digit runs, code with tabs/CRLF, whitespace
runs, contractions in any case, special-token text and partial tags, long documents."""
import json, random, unicodedata
random.seed(1)
S = []
scripts = {
 "latin": "Façade naïve crème brûlée São Paulo Ærøskøbing Łódź Straße Ñandú œuvre",
 "greek": "Καλημέρα κόσμε, ΑΒΓΔ αβγδ ῾Ομηρος ἄνθρωπος",
 "cyrillic": "Привет, мир! Съешь же ещё этих мягких французских булок ЁЖИК",
 "arabic": "مرحبا بالعالم، هذا نص عربي ١٢٣٤٥",
 "hebrew": "שלום עולם, זה טקסט בעברית",
 "devanagari": "नमस्ते दुनिया, यह हिन्दी पाठ है ०१२३",
 "thai": "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่าง",
 "cjk": "你好，世界！这是中文文本。漢字と日本語",
 "hangul": "안녕하세요 세계 한국어 텍스트",
 "kana": "こんにちは世界 カタカナ ひらがな ｶﾀｶﾅ",
}
for k, v in scripts.items():
    S += [v, " " + v, v.upper(), v + "\n", v.replace(" ", "  ")]
    S.append(unicodedata.normalize("NFD", v))
    S.append(unicodedata.normalize("NFC", v))
emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵", "1️⃣", "#️⃣", "❤️", "🧑🏿‍🚀", "👩‍💻", "🤖🤖🤖", "☺", "🫠"]
for e in emoji: S += [e, "a" + e + "b", " " + e + " ", e * 3, "text " + e + "text"]
for n in range(1, 25): S.append("".join(str((i * 7 + n) % 10) for i in range(n)))
S += ["3.14159", "1,000,000", "v1.2.3", "٣٤٥ ١٢", "१२३४५", "²³¹ ½ ¾", "12abc34", "abc 1234567 xyz", "0x1F2E3D", "１２３４５"]
code = ["def f(x):\n\treturn x + 1\n", "int main() {\r\n    return 0;\r\n}\r\n", "for (i=0;i<n;i++){a[i]=b[i]*2;}",
        "if x:\n    pass\n\n\n# comment\n", "\tindent\t\ttabs\t", "print('hello')  # trailing   ", "SELECT * FROM t WHERE a='b';",
        "<html><body class=\"x\">hi</body></html>", "x = {'a': [1, 2, 3]}\r\n", "   leading spaces", "trailing spaces   ", "a\u00a0b\u2003c\u3000d"]
S += code
ws = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\r", " \n", "\n ", " \t ", "\t\n", "\u00a0", "\u2028", "\u3000", "\v\f", "        ", "\n\n\n\n", " \r\n \r\n"]
for w in ws: S += [w, "a" + w + "b", w + "x", "x" + w]
for c in ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]:
    for v in [c, c.upper(), c.capitalize(), c[0] + c[1:].swapcase() if len(c) > 2 else c.upper()]:
        S += ["it" + v + " fine", "IT" + v, "x " + v]
S += ["I'M HERE", "we'Re", "She'LL", "don't", "DON'T", "o'clock", "rock 'n' roll", "‘curly’ quotes", "l'été"]
sp = ["<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>",
      "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>"]
for t in sp: S += [t, "a" + t + "b", " " + t + " ", t + t, t[:-1], t[1:], "<" + t]
S += ["<｜User｜>Hello<｜Assistant｜><think>\nOK</think>\n\nHi<｜end▁of▁sentence｜>", "<think", "</thi", "<｜User", "｜>", "<|im_", "<<think>>"]
words = "the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all we their".split()
allchars = "".join(scripts.values()) + "".join(emoji) + "0123456789 \t\n.,;:!?'\"()[]{}<>/\\-_=+*&^%$#@~`|"
for i in range(40):
    n = random.randint(5, 60)
    S.append(" ".join(random.choice(words) for _ in range(n)))
    S.append("".join(random.choice(allchars) for _ in range(random.randint(5, 80))))
doc = "\n\n".join(list(scripts.values()) + code + [" ".join(random.choice(words) for _ in range(200))])
S += [doc, doc * 3, ("lorem ipsum " * 400).strip(), "a" * 1000, "!" * 300, " " * 500, "😀" * 200, "1" * 200]
S = [s for s in dict.fromkeys(S) if s]
assert len(S) >= 300, len(S)
for s in S: print(json.dumps({"text": s}, ensure_ascii=False))
