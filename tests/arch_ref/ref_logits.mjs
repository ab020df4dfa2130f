// ref_logits.mjs - llama.cpp's logits for one GGUF file, through node-llama-cpp's
// prebuilt llama.cpp (CPU, 1 thread, flash attention, F16 KV cache, the whole
// prompt in one batch, logits at every position), then a greedy continuation
// picked by the argmax of llama.cpp's raw logits (no sampler in between).
//
// usage: node ref_logits.mjs MODEL.gguf CONTEXT_SIZE N_PROMPT N_GREEDY OUT.logits [OUT.greedy]
// The prompt is BOS (1) and N_PROMPT - 1 pseudo-random ids in [3, 512), the same
// for every file. OUT.logits: int32 n, int32 n_vocab, int32 tokens[n],
// float32 logits[n][n_vocab] (the ../shared/peer format); OUT.greedy: int32 n,
// int32 tokens[n].
import {getLlama} from "node-llama-cpp";
import fs from "node:fs";

const [model, ctxSize, nPrompt, nGreedy, outLogits, outGreedy] = process.argv.slice(2);
const tokens = [1];
let state = 12345;
while (tokens.length < Number(nPrompt)) {
    state = (state * 1103515245 + 12345) % 2147483648;
    tokens.push(3 + (state >> 8) % 509);
}
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const m = await llama.loadModel({modelPath: model, gpuLayers: 0});
const ctx = await m.createContext({contextSize: Number(ctxSize), batchSize: 512, threads: 1, flashAttention: true,
    swaFullCache: true});
const seq = ctx.getSequence();
const out = await seq.controlledEvaluate(tokens.map(t => [t, {generateNext: {logits: true}}]));
const nVocab = out[0].next.logits.size;

function row(logits) {
    const r = new Float32Array(nVocab);
    for (let v = 0; v < nVocab; v++) r[v] = logits.get(v);
    return r;
}
function argmax(r) {
    let b = 0;
    for (let v = 1; v < r.length; v++) if (r[v] > r[b]) b = v;
    return b;
}
const n = tokens.length;
const buf = Buffer.alloc(8 + 4 * n + 4 * n * nVocab);
buf.writeInt32LE(n, 0);
buf.writeInt32LE(nVocab, 4);
tokens.forEach((t, i) => buf.writeInt32LE(t, 8 + 4 * i));
let last;
for (let i = 0; i < n; i++) {
    last = row(out[i].next.logits);
    Buffer.from(last.buffer).copy(buf, 8 + 4 * n + 4 * i * nVocab);
}
fs.writeFileSync(outLogits, buf);

if (outGreedy) {
    const greedy = [];
    for (let i = 0; i < Number(nGreedy); i++) {
        const tok = argmax(last);
        greedy.push(tok);
        const r = await seq.controlledEvaluate([[tok, {generateNext: {logits: true}}]]);
        last = row(r[0].next.logits);
    }
    const g = Buffer.alloc(4 + 4 * greedy.length);
    g.writeInt32LE(greedy.length, 0);
    greedy.forEach((t, i) => g.writeInt32LE(t, 4 + 4 * i));
    fs.writeFileSync(outGreedy, g);
}
await ctx.dispose();
await m.dispose();
