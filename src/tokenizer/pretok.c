/*
 * pretok.c - the pre-tokenizers of byte-level BPE vocabularies: the regexes
 * that cut text into words before merges run, chosen by tokenizer.ggml.pre,
 * compiled with PCRE2 (UTF + UCP, JIT when available), plus the NFC
 * normalization (utf8proc) that qwen2's tokenizer applies first. Owns the
 * compiled patterns; called by vocab.c (create) and bpe.c (split).
 *
 * The patterns are the models' own (tokenizer.json), applied the way
 * llama.cpp applies them: each pattern of a list splits every word the
 * previous one produced, and text a pattern does not match stays a word of
 * its own. Three llama.cpp details are reproduced on purpose:
 *  - \s is llama.cpp's whitespace set (Unicode White_Space: \t-\r, space,
 *    U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028/9, U+202F, U+205F,
 *    U+3000), written out as WS below so it does not depend on PCRE2's idea;
 *  - `$` matches only at the very end (std::regex ECMAScript semantics);
 *  - in patterns without \p{..} llama.cpp's std::wregex sees non-ASCII
 *    whitespace as U+000B, so literal ranges that span such characters
 *    (deepseek's CJK ranges, U+3000 in its punctuation class) do not match
 *    them; the ranges below leave them out.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "internal.h"

#include <pcre2.h>
#include <utf8proc.h>

#define WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define SP "[" WS "]"   /* \s */
#define NSP "[^" WS "]" /* \S */

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" SP "+(?!" NSP ")|" SP "+"

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * The (?i:) group is spelled out: caseless UTF matching would also take
 * U+017F for 's', which the models' tokenizers do not. */
#define RE_CONTRACTIONS_CI "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3_TAIL "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|" SP "*[\\r\\n]+|" SP "+(?!" NSP ")|" SP "+"
#define RE_LLAMA3 RE_CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" RE_LLAMA3_TAIL
#define RE_QWEN2 RE_CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" RE_LLAMA3_TAIL

/* DeepSeek's [一-龥ࠀ-一가-퟿] without the whitespace code points inside it. */
#define RE_DEEPSEEK_CJK                                                                                                \
    "[\\x{800}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}"                  \
    "\\x{2060}-\\x{2FFF}\\x{3001}-\\x{9FA5}\\x{AC00}-\\x{D7FF}]+"

/* DeepSeek LLM's letter class (cased letters of Latin, Greek, Cyrillic,
 * Armenian, Georgian, Cherokee, ... as listed in its tokenizer.json). */
#define RE_DEEPSEEK_LETTERS                                                                                            \
    "[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}"  \
    "\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}"     \
    "\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"       \
    "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"                  \
    "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}"                  \
    "\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}"          \
    "\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}"         \
    "\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}"          \
    "\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}"                    \
    "\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"          \
    "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"                   \
    "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"                  \
    "\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}"          \
    "\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+"

static const char *const k_gpt2[] = {RE_GPT2, NULL};
static const char *const k_llama3[] = {RE_LLAMA3, NULL};
static const char *const k_qwen2[] = {RE_QWEN2, NULL};
static const char *const k_starcoder[] = {"\\p{N}", RE_GPT2, NULL};
static const char *const k_falcon[] = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL};
static const char *const k_default[] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL};
static const char *const k_deepseek_coder[] = {"[\\r\\n]", SP "?\\p{L}+", SP "?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}",
                                               NULL};
static const char *const k_deepseek_llm[] = {
    "[\\r\\n]",
    SP "?" RE_DEEPSEEK_LETTERS,
    SP "?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3001}-\\x{3002}]+",
    SP "+$",
    RE_DEEPSEEK_CJK,
    "\\p{N}+",
    NULL};

#define MAX_PATTERNS 6

typedef struct pretok_def {
    const char *name;
    const char *const *patterns;
    bool ignore_merges, add_bos, nfc;
} pretok_def;

/* tokenizer.ggml.pre values and what llama.cpp does for each. */
static const pretok_def k_defs[] = {
    {"default", k_default, false, false, false},
    {"llama3", k_llama3, true, true, false},
    {"llama-v3", k_llama3, true, true, false},
    {"llama-bpe", k_llama3, true, true, false},
    {"falcon3", k_llama3, true, true, false},
    {"pixtral", k_llama3, true, true, false},
    {"dbrx", k_llama3, false, false, false},
    {"smaug-bpe", k_llama3, false, false, false},
    {"qwen2", k_qwen2, false, false, true},
    {"deepseek-r1-qwen", k_qwen2, false, false, true},
    {"stablelm2", k_qwen2, false, false, false},
    {"gpt-2", k_gpt2, false, false, false},
    {"phi-2", k_gpt2, false, false, false},
    {"mpt", k_gpt2, false, false, false},
    {"olmo", k_gpt2, false, false, false},
    {"starcoder", k_starcoder, false, false, false},
    {"refact", k_starcoder, false, false, false},
    {"command-r", k_starcoder, false, false, false},
    {"smollm", k_starcoder, false, false, false},
    {"codeshell", k_starcoder, false, false, false},
    {"falcon", k_falcon, false, false, false},
    {"deepseek-llm", k_deepseek_llm, false, false, false},
    {"deepseek-coder", k_deepseek_coder, false, false, false},
};

const char *adm_pretok_names(void) {
    return "default, llama3, llama-v3, llama-bpe, falcon3, pixtral, dbrx, smaug-bpe, qwen2, deepseek-r1-qwen, "
           "stablelm2, gpt-2, phi-2, mpt, olmo, starcoder, refact, command-r, smollm, codeshell, falcon, "
           "deepseek-llm, deepseek-coder";
}

struct tok_pretok {
    pcre2_general_context *gctx;
    pcre2_code *re[MAX_PATTERNS];
    int n_re;
    bool nfc;
};

/* PCRE2 allocates through the library's allocator (and its failure hook). */
static void *pcre_alloc(PCRE2_SIZE size, void *user) {
    (void)user;
    return adm_alloc(size);
}
static void pcre_free(void *p, void *user) {
    (void)user;
    adm_free(p);
}

void adm_pretok_free(tok_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n_re; i++) pcre2_code_free(p->re[i]);
    pcre2_general_context_free(p->gctx);
    adm_free(p);
}

adm_status adm_pretok_create(const char *name, size_t name_len, const char *path, tok_pretok **out,
                             tok_pretok_info *info, adm_error *err) {
    *out = NULL;
    const pretok_def *def = NULL;
    if (!name) {
        adm_log(ADM_LOG_WARN, "%s: no tokenizer.ggml.pre; using llama.cpp's 'default' pre-tokenizer (tokens may "
                              "differ from the model's own tokenizer)", path);
        def = &k_defs[0];
    } else {
        for (size_t i = 0; i < sizeof(k_defs) / sizeof(k_defs[0]); i++)
            if (strlen(k_defs[i].name) == name_len && memcmp(k_defs[i].name, name, name_len) == 0) def = &k_defs[i];
        if (!def)
            return adm_fail(err, ADM_ERR_UNSUPPORTED,
                            "%s: tokenizer.ggml.pre '%.*s' is not supported (adamas knows: %s)", path,
                            (int)ADM_MIN(name_len, 64), name, adm_pretok_names());
    }
    tok_pretok *p = adm_calloc(1, sizeof(*p));
    pcre2_compile_context *cctx = NULL;
    if (!p || !(p->gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL)) ||
        !(cctx = pcre2_compile_context_create(p->gctx))) {
        adm_pretok_free(p);
        return adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", path);
    }
    p->nfc = def->nfc;
    info->ignore_merges = def->ignore_merges;
    info->add_bos = def->add_bos;
    for (const char *const *pat = def->patterns; *pat; pat++) {
        int code;
        PCRE2_SIZE at;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)*pat, PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &code,
                                       &at, cctx);
        if (!re) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(code, msg, sizeof(msg));
            pcre2_compile_context_free(cctx);
            adm_pretok_free(p);
            return adm_fail(err, code == PCRE2_ERROR_HEAPLIMIT || code == PCRE2_ERROR_NOMEMORY ? ADM_ERR_NOMEM
                                                                                                 : ADM_ERR_INTERNAL,
                            "%s: pre-tokenizer pattern %d of '%s': %s at offset %zu", path, p->n_re + 1, def->name,
                            (const char *)msg, (size_t)at);
        }
        p->re[p->n_re++] = re;
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT pcre2_match interprets */
    }
    pcre2_compile_context_free(cctx);
    *out = p;
    return ADM_OK;
}

void adm_pretok_scratch_free(tok_scratch *s) {
    pcre2_match_data_free(s->match_data);
    s->match_data = NULL;
}

static bool push_seg(uint32_t **seg, size_t *n, size_t *cap, size_t a, size_t b) {
    if (!adm_tok_reserve((void **)seg, cap, 2 * (*n + 1), sizeof(uint32_t))) return false;
    (*seg)[2 * *n] = (uint32_t)a;
    (*seg)[2 * *n + 1] = (uint32_t)b;
    (*n)++;
    return true;
}

/* Splits word [a, b) of text with one pattern into s->seg2: the matches and
 * the text between them. The subject is the word alone, so lookaheads and $
 * stop at its end, as they do for llama.cpp's per-word regex iterator. */
static bool split_word(const pcre2_code *re, tok_scratch *s, const char *text, size_t a, size_t b) {
    PCRE2_SPTR subj = (PCRE2_SPTR)text + a;
    size_t n = b - a, off = 0, prev = 0;
    pcre2_match_data *md = s->match_data;
    while (off < n) {
        int rc = pcre2_match(re, subj, n, off, 0, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) rc = pcre2_match(re, subj, n, off, PCRE2_NO_JIT, md, NULL);
        if (rc < 0) break; /* no (further) match, or a resource limit: the rest stays one word */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) { /* no pattern here matches empty, but never loop on one */
            off = ms + tok_utf8_len(subj[ms]);
            continue;
        }
        if (ms > prev && !push_seg(&s->seg2, &s->n_seg2, &s->cap_seg2, a + prev, a + ms)) return false;
        if (!push_seg(&s->seg2, &s->n_seg2, &s->cap_seg2, a + ms, a + me)) return false;
        prev = off = me;
    }
    if (prev < n && !push_seg(&s->seg2, &s->n_seg2, &s->cap_seg2, a + prev, b)) return false;
    return true;
}

/* NFC of text[0..len) into s->norm (*out_len bytes); false only when out of
 * memory. An ASCII character is a normalization boundary (combining class
 * 0, never composed onto what precedes it), so only each run of non-ASCII
 * characters, with the ASCII character before it (its possible starter), is
 * normalized; ASCII text is copied. A run that is not valid UTF-8 is copied
 * as it is. s->buf holds the code points of a run. */
static bool nfc(tok_scratch *s, const char *text, size_t len, size_t *out_len) {
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t a = i;
        if ((uint8_t)text[i] < 0x80) i++;
        while (i < len && (uint8_t)text[i] >= 0x80) i++;
        const utf8proc_uint8_t *run = (const utf8proc_uint8_t *)text + a;
        utf8proc_ssize_t n = i - a > 1 ? utf8proc_decompose(run, (utf8proc_ssize_t)(i - a), NULL, 0, opt) : -1;
        utf8proc_int32_t *cps = NULL;
        if (n >= 0) {
            if (!adm_tok_reserve((void **)&s->buf, &s->cap_buf, ((size_t)n + 1) * sizeof(utf8proc_int32_t), 1))
                return false;
            cps = (utf8proc_int32_t *)(void *)s->buf;
            if (utf8proc_decompose(run, (utf8proc_ssize_t)(i - a), cps, n, opt) != n) n = -1;
        }
        if (n >= 0) n = utf8proc_reencode(cps, n, opt); /* composes, then writes UTF-8 in place */
        const char *src = n >= 0 ? (const char *)cps : text + a;
        size_t m = n >= 0 ? (size_t)n : i - a;
        if (!adm_tok_reserve((void **)&s->norm, &s->cap_norm, o + m, 1)) return false;
        memcpy(s->norm + o, src, m);
        o += m;
    }
    *out_len = o;
    return true;
}

bool adm_pretok_split(const tok_pretok *p, tok_scratch *s, const char *text, size_t len, const char **words) {
    *words = text;
    if (p->nfc) {
        size_t i = 0;
        while (i < len && (uint8_t)text[i] < 0x80) i++;
        if (i < len) { /* ASCII is always NFC */
            if (!nfc(s, text, len, &len)) return false;
            *words = s->norm;
        }
    }
    text = *words;
    if (!s->match_data && !(s->match_data = pcre2_match_data_create(1, p->gctx))) return false;
    s->n_seg = 0;
    if (len && !push_seg(&s->seg, &s->n_seg, &s->cap_seg, 0, len)) return false;
    for (int r = 0; r < p->n_re; r++) {
        s->n_seg2 = 0;
        for (size_t w = 0; w < s->n_seg; w++)
            if (!split_word(p->re[r], s, text, s->seg[2 * w], s->seg[2 * w + 1])) return false;
        uint32_t *t = s->seg;
        size_t tc = s->cap_seg;
        s->seg = s->seg2, s->cap_seg = s->cap_seg2, s->n_seg = s->n_seg2;
        s->seg2 = t, s->cap_seg2 = tc;
    }
    return true;
}
