// End-to-end tests of `adamas serve` through the official openai client
// (pinned in package.json). Started by tests/e2e/serve.sh, which runs two
// servers on free loopback ports:
//   A = $URL_A: 4 slots, no key (most tests)
//   B = $URL_B: 1 slot, --max-queue 0, --api-key $KEY, 2048 tokens of context (auth, 503, abort)
// and passes the binary ($ADAMAS) and model ($MODEL) for the `adamas run` comparison.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import OpenAI from "openai";

const { URL_A, URL_B, KEY, ADAMAS, MODEL } = process.env;
const a = new OpenAI({ baseURL: URL_A + "/v1", apiKey: "unused", maxRetries: 0 });
const b = new OpenAI({ baseURL: URL_B + "/v1", apiKey: KEY, maxRetries: 0 });
const user = (content) => [{ role: "user", content }];
let failures = 0;

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

async function rejects(promise, cls, status, check) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e && e.constructor && e.constructor.name}: ${e}`);
    assert.equal(e.status, status);
    if (check) check(e);
    return;
  }
  assert.fail(`expected ${cls.name} (${status})`);
}

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitIdle(url, headers = {}) {
  for (let i = 0; i < 40; i++) {
    const slots = await (await fetch(url + "/slots", { headers })).json();
    if (slots.every((s) => !s.is_processing)) return slots;
    await sleep(50);
  }
  assert.fail("a slot is still busy 2 s after its client went away");
}

await test("GET /health, /v1/models (models.list)", async () => {
  assert.deepEqual(await (await fetch(URL_A + "/health")).json(), { status: "ok" });
  const models = [];
  for await (const m of a.models.list()) models.push(m);
  assert.equal(models.length, 1);
  assert.equal(models[0].object, "model");
  assert.equal(models[0].id, "stories260K.gguf");
});

await test("non-streaming chat: OpenAI's shape and usage", async () => {
  const r = await a.chat.completions.create({ model: "x", messages: user("Hello"), max_tokens: 12, temperature: 0 });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, "chat.completion");
  assert.ok(Number.isInteger(r.created));
  assert.equal(r.model, "stories260K.gguf");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].index, 0);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["stop", "length"].includes(r.choices[0].finish_reason));
  const u = r.usage;
  assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.ok(Number.isInteger(u.prompt_tokens_details.cached_tokens));
});

await test("max_tokens and max_completion_tokens: finish_reason length, exactly N tokens", async () => {
  for (const field of ["max_tokens", "max_completion_tokens"]) {
    const r = await a.chat.completions.create({ messages: user("Tell me a story"), [field]: 7, ignore_eos: true });
    assert.equal(r.choices[0].finish_reason, "length");
    assert.equal(r.usage.completion_tokens, 7);
  }
  const c = await a.completions.create({ model: "x", prompt: "Once upon a time", max_tokens: 9, ignore_eos: true });
  assert.equal(c.object, "text_completion");
  assert.match(c.id, /^cmpl-/);
  assert.equal(c.choices[0].finish_reason, "length");
  assert.equal(c.usage.completion_tokens, 9);
});

await test("greedy completion equals `adamas run` on the same prompt", async () => {
  for (const prompt of ["Once upon a time", "The little dog"]) {
    const run = spawnSync(ADAMAS, ["run", "-m", MODEL, "-p", prompt, "-n", "40", "--temp", "0", "--ignore-eos", "-t", "1"],
      { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const r = await a.completions.create({ model: "x", prompt, max_tokens: 40, temperature: 0, ignore_eos: true });
    // `run` ends its output with a newline when the text does not (issue 14).
    const text = r.choices[0].text;
    assert.equal(text.endsWith("\n") ? text : text + "\n", run.stdout);
  }
});

await test("streaming chat: role first, one finish_reason, usage, same text as non-streaming", async () => {
  const req = { messages: user("Tell me about cats"), max_tokens: 24, temperature: 0.9, seed: 5 };
  const full = await a.chat.completions.create(req);
  const chunks = await collect(await a.chat.completions.create({ ...req, stream: true,
    stream_options: { include_usage: true } }));
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  for (const c of chunks) {
    assert.equal(c.object, "chat.completion.chunk");
    assert.equal(c.id, chunks[0].id);
    assert.equal(c.created, chunks[0].created);
  }
  for (const c of chunks.slice(1)) if (c.choices.length) assert.equal(c.choices[0].delta.role, undefined);
  const finishes = chunks.filter((c) => c.choices.length && c.choices[0].finish_reason);
  assert.equal(finishes.length, 1);
  assert.deepEqual(finishes[0].choices[0].delta, {});
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, full.usage.completion_tokens);
  assert.equal(last.usage.prompt_tokens, full.usage.prompt_tokens);
  const text = chunks.map((c) => (c.choices.length && c.choices[0].delta.content) || "").join("");
  assert.equal(text, full.choices[0].message.content);
  assert.equal(finishes[0].choices[0].finish_reason, full.choices[0].finish_reason);
});

await test("streaming completions", async () => {
  const req = { model: "x", prompt: "Once upon a time", max_tokens: 20, temperature: 0 };
  const full = await a.completions.create(req);
  const chunks = await collect(await a.completions.create({ ...req, stream: true }));
  assert.equal(chunks.map((c) => c.choices[0].text).join(""), full.choices[0].text);
  assert.equal(chunks.filter((c) => c.choices[0].finish_reason).length, 1);
});

await test("chat.completions.stream(...).finalChatCompletion()", async () => {
  const stream = a.chat.completions.stream({ model: "x", messages: user("Hi there"), max_tokens: 16, temperature: 0 });
  let deltas = "";
  stream.on("content", (d) => { deltas += d; });
  const final = await stream.finalChatCompletion();
  assert.equal(final.choices[0].message.role, "assistant");
  assert.equal(final.choices[0].message.content, deltas);
  assert.ok(["stop", "length"].includes(final.choices[0].finish_reason));
});

await test("stop strings: the text ends before the first stop, none of it leaks (streamed or not)", async () => {
  const base = { model: "x", prompt: "Once upon a time", max_tokens: 60, temperature: 0, ignore_eos: true };
  const full = (await a.completions.create(base)).choices[0].text;
  assert.ok(full.length > 30, full);
  const stop = full.slice(20, 24);
  const want = full.slice(0, full.indexOf(stop));
  for (const s of [stop, [stop, "zzzz"]]) {
    const r = await a.completions.create({ ...base, stop: s });
    assert.equal(r.choices[0].text, want);
    assert.equal(r.choices[0].finish_reason, "stop");
    const chunks = await collect(await a.completions.create({ ...base, stop: s, stream: true }));
    assert.equal(chunks.map((c) => c.choices[0].text).join(""), want);
  }
  const chat = await a.chat.completions.create({ messages: user("Hi"), max_tokens: 40, temperature: 0, stop: ["."] });
  assert.ok(!chat.choices[0].message.content.includes("."));
});

await test("seeds: the same seed gives the same text, other seeds other texts", async () => {
  const req = (seed) => a.completions.create({ model: "x", prompt: "Once", max_tokens: 30, temperature: 1, seed,
    ignore_eos: true });
  const t1 = (await req(42)).choices[0].text, t2 = (await req(42)).choices[0].text;
  assert.equal(t1, t2);
  const others = new Set();
  for (const s of [1, 2, 3, 4]) others.add((await req(s)).choices[0].text);
  assert.ok(others.size > 1, "four seeds gave one text");
});

await test("8 concurrent seeded requests give what they give one at a time", async () => {
  const reqs = Array.from({ length: 8 }, (_, i) => ({ model: "x", prompt: ["Once upon a time", "The cat", "Lily",
    "A big"][i % 4] + " " + i, max_tokens: 24 + i, temperature: 0.8, seed: 100 + i, ignore_eos: true }));
  const alone = [];
  for (const r of reqs) alone.push((await a.completions.create(r)).choices[0].text);
  const together = await Promise.all(reqs.map((r) => a.completions.create(r)));
  assert.deepEqual(together.map((r) => r.choices[0].text), alone);
});

await test("second chat turn: cached_tokens reports the reused prefix", async () => {
  const sys = { role: "system", content: "You are a storyteller who tells short happy stories about animals." };
  const m1 = [sys, { role: "user", content: "Tell me about a dog." }];
  const r1 = await a.chat.completions.create({ messages: m1, max_tokens: 16, temperature: 0 });
  const m2 = [...m1, { role: "assistant", content: r1.choices[0].message.content },
    { role: "user", content: "And a cat?" }];
  const r2 = await a.chat.completions.create({ messages: m2, max_tokens: 8, temperature: 0 });
  const cached = r2.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= r1.usage.prompt_tokens * 0.8, `cached ${cached} of turn 1's ${r1.usage.prompt_tokens}`);
  assert.ok(cached < r2.usage.prompt_tokens);
});

await test("logprobs and top_logprobs (chat) in OpenAI's shape", async () => {
  const r = await a.chat.completions.create({ messages: user("Hi"), max_tokens: 6, temperature: 0, logprobs: true,
    top_logprobs: 3, ignore_eos: true });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, 6);
  for (const t of lp) {
    assert.equal(typeof t.token, "string");
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    assert.equal(t.top_logprobs.length, 3);
    assert.equal(t.top_logprobs[0].logprob, t.logprob, "greedy: the token is the most likely one");
  }
  assert.equal(lp.map((t) => t.token).join(""), r.choices[0].message.content);
});

await test("400s as BadRequestError: n, unknown field, wrong type, prompt too long (also when streaming)", async () => {
  await rejects(a.chat.completions.create({ messages: user("x"), n: 2 }), OpenAI.BadRequestError, 400,
    (e) => assert.match(e.message, /'n' must be 1/));
  await rejects(a.chat.completions.create({ messages: user("x"), max_token: 5 }), OpenAI.BadRequestError, 400,
    (e) => assert.equal(e.param, "max_token"));
  await rejects(a.chat.completions.create({ messages: user("x"), temperature: "hot" }), OpenAI.BadRequestError, 400,
    (e) => assert.equal(e.type, "invalid_request_error"));
  await rejects(a.chat.completions.create({ messages: "x" }), OpenAI.BadRequestError, 400);
  const long = "Once upon a time there was a dog. ".repeat(100);
  for (const stream of [false, true])
    await rejects(a.completions.create({ model: "x", prompt: long, stream }), OpenAI.BadRequestError, 400, (e) => {
      assert.equal(e.code, "context_length_exceeded");
      assert.ok(e.error.n_prompt_tokens > 256);
      assert.equal(e.error.n_ctx, 256);
      assert.match(e.message, new RegExp(`${e.error.n_prompt_tokens} tokens.*holds 256`));
    });
  const raw = await fetch(URL_A + "/v1/chat/completions", { method: "POST", body: "{\"messages\": [" });
  assert.equal(raw.status, 400);
  assert.equal((await raw.json()).error.type, "invalid_request_error");
  const nf = await fetch(URL_A + "/v1/nothing");
  assert.equal(nf.status, 404);
});

await test("POST /tokenize and /detokenize round-trip", async () => {
  const t = await (await fetch(URL_A + "/tokenize", { method: "POST", body: JSON.stringify({ content: "Hello world" }) }))
    .json();
  assert.ok(t.tokens.length >= 2);
  const d = await (await fetch(URL_A + "/detokenize", { method: "POST", body: JSON.stringify(t) })).json();
  assert.equal(d.content.trim(), "Hello world");
});

await test("API key: 401 as AuthenticationError, public endpoints without it", async () => {
  const wrong = new OpenAI({ baseURL: URL_B + "/v1", apiKey: "wrong", maxRetries: 0 });
  await rejects(wrong.chat.completions.create({ messages: user("x"), max_tokens: 1 }), OpenAI.AuthenticationError, 401,
    (e) => assert.equal(e.type, "authentication_error"));
  assert.equal((await fetch(URL_B + "/v1/completions", { method: "POST", body: "{}" })).status, 401);
  assert.equal((await fetch(URL_B + "/v1/models")).status, 200);
  assert.equal((await fetch(URL_B + "/health")).status, 200);
  assert.equal((await fetch(URL_B + "/slots")).status, 401);
  const ok = await fetch(URL_B + "/v1/completions", { method: "POST", headers: { "X-Api-Key": KEY },
    body: JSON.stringify({ prompt: "x", max_tokens: 1 }) });
  assert.equal(ok.status, 200);
});

const authB = { Authorization: "Bearer " + KEY };

await test("full queue: 503 with Retry-After as InternalServerError; abort mid-stream frees the slot", async () => {
  const ctl = new AbortController();
  const stream = await b.chat.completions.create({ messages: user("Tell me a long story"), stream: true,
    max_tokens: 3000, ignore_eos: true }, { signal: ctl.signal });
  let n = 0;
  try {
    for await (const c of stream) {
      if (c.choices.length && c.choices[0].delta.content && ++n === 3) {
        const busy = await (await fetch(URL_B + "/slots", { headers: authB })).json();
        assert.equal(busy[0].is_processing, true);
        await rejects(b.chat.completions.create({ messages: user("x"), max_tokens: 2 }), OpenAI.InternalServerError,
          503, (e) => {
            assert.equal(e.headers.get("retry-after"), "1");
            assert.equal(e.type, "unavailable_error");
          });
        ctl.abort();
        break; // chunks already received would still be handed out
      }
    }
  } catch (e) {
    if (!(e instanceof OpenAI.APIUserAbortError) && e.name !== "AbortError") throw e;
  }
  assert.equal(n, 3, "the stream ended before its third chunk");
  const slots = await waitIdle(URL_B, authB);
  assert.ok(slots[0].next_token.n_decoded < 1500, "the generation ran (almost) to its end");
  const after = await b.chat.completions.create({ messages: user("Hi"), max_tokens: 3 });
  assert.equal(after.usage.completion_tokens, 3);
});

await test("a non-streaming client that goes away frees its slot", async () => {
  const ctl = new AbortController();
  const p = b.completions.create({ model: "x", prompt: "Once", max_tokens: 3000, ignore_eos: true },
    { signal: ctl.signal }).catch((e) => e);
  for (let i = 0; i < 200; i++) {
    const slots = await (await fetch(URL_B + "/slots", { headers: authB })).json();
    if (slots[0].is_processing && slots[0].next_token.n_decoded > 0) break;
    await sleep(10);
  }
  ctl.abort();
  await p;
  const slots = await waitIdle(URL_B, authB);
  assert.ok(slots[0].next_token.n_decoded < 1500);
});

console.log(failures ? `${failures} test(s) failed` : "all passed");
process.exit(failures ? 1 : 0);
