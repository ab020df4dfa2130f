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

// ---- structured output (response_format, grammar, json_schema) ----

// Checks value against the subset of JSON schema the test schemas use.
function validate(v, schema, at = "") {
  if (schema.enum) return assert.ok(schema.enum.includes(v), `${at}: ${JSON.stringify(v)} not in the enum`);
  switch (schema.type) {
    case "object": {
      assert.ok(v !== null && typeof v === "object" && !Array.isArray(v), `${at}: not an object`);
      for (const k of schema.required || []) assert.ok(k in v, `${at}: no required property '${k}'`);
      for (const [k, x] of Object.entries(v)) {
        if (schema.properties && k in schema.properties) validate(x, schema.properties[k], `${at}/${k}`);
        else assert.notEqual(schema.additionalProperties, false, `${at}: property '${k}' is not allowed`);
      }
      return;
    }
    case "array":
      assert.ok(Array.isArray(v), `${at}: not an array`);
      assert.ok(v.length >= (schema.minItems ?? 0) && v.length <= (schema.maxItems ?? Infinity),
        `${at}: ${v.length} items`);
      return v.forEach((x, i) => validate(x, schema.items, `${at}/${i}`));
    case "string": {
      assert.equal(typeof v, "string", `${at}: not a string`);
      const n = [...v].length; // code points, as JSON schema counts
      return assert.ok(n >= (schema.minLength ?? 0) && n <= (schema.maxLength ?? Infinity), `${at}: length ${n}`);
    }
    case "integer": return assert.ok(Number.isInteger(v), `${at}: ${v} is not an integer`);
    case "boolean": return assert.equal(typeof v, "boolean", `${at}: not a boolean`);
    default: assert.fail(`${at}: the checker does not know ${JSON.stringify(schema)}`);
  }
}

// Every string and array bounded, so that even this tiny story model
// (which never writes JSON on its own) reaches the end of the grammar.
const person = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 12 },
    age: { type: "integer" },
    mood: { enum: ["happy", "sad", "sleepy"] },
    tags: { type: "array", items: { type: "string", maxLength: 8 }, minItems: 1, maxItems: 3 },
    pet: { type: "boolean" },
  },
  required: ["name", "age", "mood", "tags"],
  additionalProperties: false,
};
const personFormat = { type: "json_schema", json_schema: { name: "person", strict: true, schema: person,
  description: "a person" } };

await test("response_format json_schema: every answer parses and is valid (chat and completions, 6 seeds)", async () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const r = await a.chat.completions.create({ messages: user("Describe a person"), temperature: 1, seed,
      max_tokens: 200, response_format: personFormat });
    assert.equal(r.choices[0].finish_reason, "stop", r.choices[0].message.content);
    validate(JSON.parse(r.choices[0].message.content), person);
  }
  for (const seed of [7, 8]) {
    const c = await a.completions.create({ model: "x", prompt: "Once upon a time", temperature: 1, seed,
      max_tokens: 200, response_format: personFormat });
    assert.equal(c.choices[0].finish_reason, "stop", c.choices[0].text);
    validate(JSON.parse(c.choices[0].text), person);
  }
});

await test("json_schema streamed: the deltas concatenate to the non-streamed answer, which parses", async () => {
  const req = { messages: user("A person, please"), temperature: 1, seed: 11, max_tokens: 200,
    response_format: personFormat };
  const full = await a.chat.completions.create(req);
  const chunks = await collect(await a.chat.completions.create({ ...req, stream: true }));
  const text = chunks.map((c) => (c.choices.length && c.choices[0].delta.content) || "").join("");
  assert.equal(text, full.choices[0].message.content);
  validate(JSON.parse(text), person);
  const finishes = chunks.filter((c) => c.choices.length && c.choices[0].finish_reason);
  assert.deepEqual(finishes.map((c) => c.choices[0].finish_reason), ["stop"]);
});

// Closes a prefix of a JSON text (open string, partial literal or number,
// a dangling key, comma or colon, open brackets) so that it parses; a text
// that is no JSON prefix stays unparsable.
function closeJson(t) {
  const stack = [];
  let inStr = false, isKey = false, last = "", esc = -1;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (inStr) {
      if (c === "\\") esc = i, i += t[i + 1] === "u" ? 5 : 1;
      else if (c === '"') inStr = false, last = isKey ? "key" : '"';
      continue;
    }
    if (c === '"') inStr = true, isKey = stack.at(-1) === "{" && (last === "{" || last === ",");
    else if ("{[".includes(c)) stack.push(c), last = c;
    else if ("}]".includes(c)) stack.pop(), last = c;
    else if (!" \n\r\t".includes(c)) last = c === "," || c === ":" ? c : "v";
  }
  let s = t;
  if (inStr) {
    if (esc >= 0 && t.length - esc < (t[esc + 1] === "u" ? 6 : 2)) s = s.slice(0, esc); // a cut escape
    s += '"';
    last = isKey ? "key" : '"';
  }
  const word = s.match(/(-?[0-9.eE+-]*|[a-z]+)$/)[0];
  if (/^[a-z]+$/.test(word)) s += ["true", "false", "null"].find((w) => w.startsWith(word)).slice(word.length);
  else if (/[-.eE+]$/.test(word)) s += "0";
  if (last === "key") s += ":null";
  else if (last === ":") s += "null";
  else if (last === ",") s += stack.at(-1) === "{" ? '"k":null' : "null";
  return s + stack.reverse().map((c) => (c === "{" ? "}" : "]")).join("");
}

await test("response_format json_object: a JSON object, or a prefix of one cut by max_tokens", async () => {
  for (const seed of [1, 2, 3]) {
    for (const max_tokens of [5, 40, 120]) {
      const r = await a.chat.completions.create({ messages: user("JSON"), temperature: 1, seed, max_tokens,
        response_format: { type: "json_object" } });
      const { content } = r.choices[0].message, finish = r.choices[0].finish_reason;
      const v = JSON.parse(finish === "stop" ? content : closeJson(content));
      assert.ok(v !== null && typeof v === "object" && !Array.isArray(v), content);
      if (finish === "length") assert.equal(r.usage.completion_tokens, max_tokens);
      else assert.equal(finish, "stop");
    }
  }
});

await test("grammar (GBNF, llama-server's field) and json_schema (its other field) on both endpoints", async () => {
  const grammar = 'root ::= "[" item (", " item){0,3} "]"\nitem ::= "\\"" ("cat" | "dog" | [a-z]{1,6}) "\\""\n';
  for (const seed of [1, 2, 3]) {
    const c = await a.completions.create({ model: "x", prompt: "My pets:", temperature: 1, seed, max_tokens: 100,
      grammar });
    assert.equal(c.choices[0].finish_reason, "stop");
    assert.match(c.choices[0].text, /^\["[a-z]{1,6}"(, "[a-z]{1,6}"){0,3}\]$/);
    const r = await a.chat.completions.create({ messages: user("Pets?"), temperature: 1, seed, max_tokens: 100,
      grammar });
    assert.match(r.choices[0].message.content, /^\["[a-z]{1,6}"(, "[a-z]{1,6}"){0,3}\]$/);
  }
  const schema = { type: "array", items: { enum: [1, 2, 3] }, minItems: 2, maxItems: 2 };
  const j = await a.completions.create({ model: "x", prompt: "Two numbers:", temperature: 1, seed: 5,
    max_tokens: 60, json_schema: schema });
  validate(JSON.parse(j.choices[0].text), { type: "array", items: { enum: [1, 2, 3] }, minItems: 2, maxItems: 2 });
  const t = await a.chat.completions.create({ messages: user("Hi"), max_tokens: 5, temperature: 0,
    response_format: { type: "text" } });
  assert.equal(t.choices[0].finish_reason, "length");
});

await test("structured output refused with 400s that name the problem (also when streaming)", async () => {
  const bad = { type: "object", properties: { n: { type: "integer", multipleOf: 3 } } };
  for (const stream of [false, true])
    await rejects(a.chat.completions.create({ messages: user("x"), stream,
      response_format: { type: "json_schema", json_schema: { name: "n", schema: bad } } }), OpenAI.BadRequestError,
    400, (e) => {
      assert.equal(e.type, "invalid_request_error");
      assert.equal(e.param, "response_format");
      assert.match(e.message, /\/properties\/n\/multipleOf: keyword 'multipleOf' is not supported/);
    });
  await rejects(a.completions.create({ model: "x", prompt: "x", grammar: 'root ::= "a" item\nitem ::= [a-' }),
    OpenAI.BadRequestError, 400, (e) => {
      assert.equal(e.param, "grammar");
      assert.match(e.message, /line 2, column \d+/);
    });
  await rejects(a.completions.create({ model: "x", prompt: "x", grammar: "root ::= item" }), OpenAI.BadRequestError,
    400, (e) => assert.match(e.message, /line 1, column 10: undefined rule 'item'/));
  await rejects(a.chat.completions.create({ messages: user("x"), grammar: 'root ::= "a"',
    response_format: { type: "json_object" } }), OpenAI.BadRequestError, 400,
  (e) => assert.match(e.message, /only one of/));
  await rejects(a.chat.completions.create({ messages: user("x"), json_schema: { type: "integer" },
    grammar: 'root ::= "a"' }), OpenAI.BadRequestError, 400, (e) => assert.match(e.message, /only one of/));
  await rejects(a.chat.completions.create({ messages: user("x"), response_format: { type: "xml" } }),
    OpenAI.BadRequestError, 400, (e) => assert.equal(e.param, "response_format"));
  await rejects(a.chat.completions.create({ messages: user("x"), ignore_eos: true,
    response_format: { type: "json_object" } }), OpenAI.BadRequestError, 400,
  (e) => assert.equal(e.param, "ignore_eos"));
  // A schema nested past the body's limit (32 levels) is refused before any conversion.
  let deep = { type: "integer" };
  for (let i = 0; i < 40; i++) deep = { type: "object", properties: { a: deep } };
  await rejects(a.chat.completions.create({ messages: user("x"), response_format: { type: "json_schema",
    json_schema: { name: "deep", schema: deep } } }), OpenAI.BadRequestError, 400,
  (e) => assert.match(e.message, /nested more than 32 levels/));
  const ok = await a.chat.completions.create({ messages: user("x"), max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
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
