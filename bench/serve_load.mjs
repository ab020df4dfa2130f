// Load generator for OpenAI-compatible servers (adamas serve, llama-server):
// N concurrent streaming /v1/completions requests, each a distinct prompt of
// exactly P tokens (random words, tokenized by the server's /tokenize and
// sent as token ids, so every server sees the same lengths and no shared
// prefix) and G generated tokens (ignore_eos). Reports requests/s, aggregate
// generated tokens/s, time to first token and inter-token latency (median,
// p95, p99) and text chunks per answer. Not a test: numbers depend on the
// machine and its load.
//
//   node bench/serve_load.mjs --url http://127.0.0.1:8080 [--n 1,4,8] [--prompt 512] [--gen 128]
//                             [--rounds 2] [--label adamas] [--json]
//   node bench/serve_load.mjs --targets adamas=http://127.0.0.1:8080,llama-server=http://127.0.0.1:8081 ...
//
// With several targets the rounds alternate between the servers (A B, then
// B A, ...), so that a slow phase of a shared machine (a VM's neighbours,
// frequency changes; seconds to minutes long) falls on both alike.
import http from "node:http";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "1"]);
  return acc;
}, []));
const targets = args.targets
  ? args.targets.split(",").map((t) => { const at = t.indexOf("="); return { label: t.slice(0, at), url: t.slice(at + 1) }; })
  : [{ label: args.label || args.url || "http://127.0.0.1:8080", url: args.url || "http://127.0.0.1:8080" }];
const levels = (args.n || "1,4,8").split(",").map(Number);
const P = Number(args.prompt || 512), G = Number(args.gen || 128), rounds = Number(args.rounds || 2);
const headers = { "Content-Type": "application/json" };
if (args.key) headers.Authorization = "Bearer " + args.key;

const words = ("time story little girl dog ran park sun happy tree water friend house big small red blue play " +
  "found said went saw day night bird cat ball jump sky green look help mom dad car road hill river").split(" ");
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
const promptText = () => Array.from({ length: P * 2 }, () => words[Math.floor(rand() * words.length)]).join(" ");

async function promptTokens(url, text) {
  const toks = JSON.parse(await post(url, "/tokenize", { content: text })).tokens.map((t) => (typeof t === "object" ? t.id : t));
  if (toks.length < P) throw new Error("prompt too short");
  return toks.slice(0, P);
}

// node:http with a fresh connection per request: llama-server closes
// keep-alive connections after a few requests, which fetch's pool races.
function post(base, path, body, onData) {
  return new Promise((resolve, reject) => {
    const u = new URL(base + path);
    const data = JSON.stringify(body);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent: false,
      headers: { ...headers, "Content-Length": Buffer.byteLength(data), Connection: "close" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { text += d; if (onData) onData(d); });
      res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}

async function one(url, prompt) {
  const t0 = performance.now();
  const times = [];
  let buf = "";
  await post(url, "/v1/completions",
    { prompt, max_tokens: G, ignore_eos: true, temperature: 0, stream: true, cache_prompt: false }, (d) => {
      buf += d;
      let at;
      while ((at = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, at);
        buf = buf.slice(at + 2);
        if (!ev.startsWith("data: ") || ev === "data: [DONE]") continue;
        const j = JSON.parse(ev.slice(6));
        if (j.error) throw new Error(j.error.message);
        const c = j.choices && j.choices[0];
        if (c && c.text) times.push(performance.now());
      }
    });
  return { t0, times, end: performance.now() };
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
};

const rows = [];
for (const n of levels) {
  const texts = Array.from({ length: n * rounds + 1 }, promptText);
  const st = [];
  for (const t of targets) {
    const prompts = [];
    for (const x of texts) prompts.push(await promptTokens(t.url, x));
    await one(t.url, prompts.pop()); // warm-up (pages the weights in)
    st.push({ t, prompts, ttft: [], itl: [], tokens: 0, wall: 0, requests: 0, chunks: 0 });
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...st].reverse() : st;
    for (const s of order) {
      const batch = s.prompts.slice(r * n, (r + 1) * n);
      const start = performance.now();
      const res = await Promise.all(batch.map((p) => one(s.t.url, p)));
      s.wall += (performance.now() - start) / 1000;
      for (const x of res) {
        s.requests++;
        s.tokens += G; // ignore_eos: every answer is G tokens (chunks may carry several)
        s.chunks += x.times.length;
        if (x.times.length) s.ttft.push(x.times[0] - x.t0);
        // the gaps between text chunks as a client sees them (one token each,
        // unless text was held back: an incomplete UTF-8 character, a possible stop)
        for (let i = 1; i < x.times.length; i++) s.itl.push(x.times[i] - x.times[i - 1]);
      }
    }
  }
  for (const s of st)
    rows.push({ server: s.t.label, n, requests_per_s: s.requests / s.wall, tokens_per_s: s.tokens / s.wall,
      ttft_median_ms: pct(s.ttft, 0.5), ttft_p95_ms: pct(s.ttft, 0.95), itl_median_ms: pct(s.itl, 0.5),
      itl_p95_ms: pct(s.itl, 0.95), itl_p99_ms: pct(s.itl, 0.99), chunks_per_answer: s.chunks / s.requests });
}
if (args.json) {
  console.log(JSON.stringify(rows));
} else {
  console.log("| server | N | requests/s | tokens/s | TTFT median ms | TTFT p95 ms | ITL median ms | ITL p95 ms | ITL p99 ms | text chunks / answer |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows)
    console.log(`| ${r.server} | ${r.n} | ${r.requests_per_s.toFixed(3)} | ${r.tokens_per_s.toFixed(1)} | ` +
      `${r.ttft_median_ms.toFixed(0)} | ${r.ttft_p95_ms.toFixed(0)} | ${r.itl_median_ms.toFixed(1)} | ` +
      `${r.itl_p95_ms.toFixed(1)} | ${r.itl_p99_ms.toFixed(1)} | ${r.chunks_per_answer.toFixed(1)} |`);
}
