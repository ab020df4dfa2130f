/*
 * gbnf.c - GBNF text -> gr_program.
 *
 * The syntax is llama.cpp's, so that existing .gbnf files work unchanged:
 *
 *     name ::= alternatives          one rule per line; `root` starts
 *     a | b                          alternatives
 *     "lit\n"  [a-z_\x41] [^"\\]  .  literals, classes (negated), any character
 *     ( ... )                        groups (may span lines)
 *     x*  x+  x?  x{m}  x{m,}  x{m,n}  x{,n}   repetitions
 *     # ...                          comments
 *
 * Escapes: \n \r \t \\ \" \[ \] \- \^ \/ \xHH \uHHHH \UHHHHHHHH. A rule
 * ends at a newline outside parentheses; an alternative may continue on
 * the next line after a trailing `|`.
 *
 * Compilation: repetitions become helper rules (x* -> R ::= x R | "",
 * x{m,n} -> m copies of x then a nest of n-m optional ones); character
 * classes become the UTF-8 byte sequences of their code points; then rules
 * that can never finish are pruned (an empty language for root is an
 * error), and left recursion, which a top-down matcher cannot run, is
 * refused with the rule's name and position.
 */
#include "grammar/grammar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct evec {
    gr_elem *p;
    uint32_t n, cap;
} evec;

typedef struct brule {
    char *name;       /* NULL for helper rules */
    size_t def_off;   /* where it is defined (SIZE_MAX: not yet) */
    size_t ref_off;   /* first reference (for "undefined rule") */
    uint32_t origin;  /* the user rule a helper rule was made for */
    evec body;        /* alternatives, each ended by GR_END */
} brule;

typedef struct parser {
    const char *s;
    size_t n, i;
    adm_error *err;
    adm_status st;
    brule *rules;
    uint32_t n_rules, cap_rules;
    uint32_t *name_slot; /* hash of user rule names -> rule index + 1 */
    uint32_t name_cap;
    uint64_t (*sets)[4];
    uint32_t n_sets, cap_sets;
    uint32_t *set_slot; /* hash of sets -> set index + 1 */
    uint32_t set_cap;
    uint64_t n_elems;   /* all bodies together */
    int depth;
    uint32_t cur;       /* the user rule being parsed */
} parser;

/* Grows an array of elsize-byte elements to hold at least need. */
static bool grow(void *pp, uint32_t *cap, uint64_t need, size_t elsize) {
    void **p = pp;
    if (need <= *cap) return true;
    uint64_t nc = *cap ? *cap : 8;
    while (nc < need) nc *= 2;
    if (nc > UINT32_MAX) return false;
    void *q = adm_alloc((size_t)nc * elsize);
    if (!q) return false;
    if (*p) memcpy(q, *p, (size_t)*cap * elsize);
    adm_free(*p);
    *p = q;
    *cap = (uint32_t)nc;
    return true;
}

static void line_col(const char *s, size_t off, int *line, int *col) {
    int l = 1, c = 1;
    for (size_t k = 0; k < off; k++) {
        if (s[k] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static bool fail_at(parser *P, size_t off, adm_status code, const char *fmt, ...) ADM_PRINTF(4, 5);
static bool fail_at(parser *P, size_t off, adm_status code, const char *fmt, ...) {
    if (P->st != ADM_OK) return false;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line, col;
    line_col(P->s, off > P->n ? P->n : off, &line, &col);
    P->st = adm_fail(P->err, code, "grammar: line %d, column %d: %s", line, col, msg);
    return false;
}

static bool nomem(parser *P) {
    if (P->st == ADM_OK) P->st = adm_fail(P->err, ADM_ERR_NOMEM, "grammar: out of memory");
    return false;
}

static bool too_large(parser *P) {
    return fail_at(P, P->i, ADM_ERR_UNSUPPORTED, "the grammar is too large (over %u elements after expanding "
                   "repetitions, or over %u rules)", GR_MAX_ELEMS, GR_MAX_RULES);
}

static bool push_elem(parser *P, uint32_t r, uint32_t kind, uint32_t arg) {
    if (P->n_elems >= GR_MAX_ELEMS) return too_large(P);
    evec *v = &P->rules[r].body;
    if (!grow(&v->p, &v->cap, (uint64_t)v->n + 1, sizeof(gr_elem))) return nomem(P);
    v->p[v->n++] = (gr_elem){kind, arg};
    P->n_elems++;
    return true;
}

static uint64_t hash_bytes(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < n; k++) h = (h ^ b[k]) * 1099511628211ull;
    return h;
}

/* A new rule (helper rules get name NULL). Returns its index or UINT32_MAX. */
static uint32_t new_rule(parser *P, char *name) {
    if (P->n_rules >= GR_MAX_RULES) {
        too_large(P);
        return UINT32_MAX;
    }
    if (!grow(&P->rules, &P->cap_rules, (uint64_t)P->n_rules + 1, sizeof(brule))) {
        nomem(P);
        return UINT32_MAX;
    }
    brule *r = &P->rules[P->n_rules];
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->def_off = SIZE_MAX;
    r->ref_off = SIZE_MAX;
    r->origin = name ? P->n_rules : P->cur;
    return P->n_rules++;
}

/* The rule named s[0..len), created (undefined) on first mention. */
static uint32_t rule_by_name(parser *P, const char *s, size_t len) {
    if ((uint64_t)(P->n_rules + 1) * 2 > P->name_cap) {
        uint32_t nc = P->name_cap ? P->name_cap * 2 : 64;
        while ((uint64_t)(P->n_rules + 1) * 2 > nc) nc *= 2;
        uint32_t *ns = adm_calloc(nc, sizeof(uint32_t));
        if (!ns) {
            nomem(P);
            return UINT32_MAX;
        }
        for (uint32_t r = 0; r < P->n_rules; r++) {
            if (!P->rules[r].name) continue;
            uint64_t h = hash_bytes(P->rules[r].name, strlen(P->rules[r].name));
            uint32_t k = (uint32_t)h & (nc - 1);
            while (ns[k]) k = (k + 1) & (nc - 1);
            ns[k] = r + 1;
        }
        adm_free(P->name_slot);
        P->name_slot = ns;
        P->name_cap = nc;
    }
    uint32_t k = (uint32_t)hash_bytes(s, len) & (P->name_cap - 1);
    for (; P->name_slot[k]; k = (k + 1) & (P->name_cap - 1)) {
        const char *nm = P->rules[P->name_slot[k] - 1].name;
        if (strlen(nm) == len && !memcmp(nm, s, len)) return P->name_slot[k] - 1;
    }
    char *name = adm_alloc(len + 1);
    if (!name) {
        nomem(P);
        return UINT32_MAX;
    }
    memcpy(name, s, len);
    name[len] = 0;
    uint32_t r = new_rule(P, name);
    if (r == UINT32_MAX) {
        adm_free(name);
        return r;
    }
    P->name_slot[k] = r + 1;
    return r;
}

/* Index of a byte set (interned), or UINT32_MAX. */
static uint32_t intern_set(parser *P, const uint64_t set[4]) {
    if ((uint64_t)(P->n_sets + 1) * 2 > P->set_cap) {
        if (P->n_sets >= GR_MAX_SETS) {
            too_large(P);
            return UINT32_MAX;
        }
        uint32_t nc = P->set_cap ? P->set_cap * 2 : 256;
        uint32_t *ns = adm_calloc(nc, sizeof(uint32_t));
        if (!ns) {
            nomem(P);
            return UINT32_MAX;
        }
        for (uint32_t s = 0; s < P->n_sets; s++) {
            uint32_t k = (uint32_t)hash_bytes(P->sets[s], 32) & (nc - 1);
            while (ns[k]) k = (k + 1) & (nc - 1);
            ns[k] = s + 1;
        }
        adm_free(P->set_slot);
        P->set_slot = ns;
        P->set_cap = nc;
    }
    uint32_t k = (uint32_t)hash_bytes(set, 32) & (P->set_cap - 1);
    for (; P->set_slot[k]; k = (k + 1) & (P->set_cap - 1))
        if (!memcmp(P->sets[P->set_slot[k] - 1], set, 32)) return P->set_slot[k] - 1;
    if (!grow(&P->sets, &P->cap_sets, (uint64_t)P->n_sets + 1, 32)) {
        nomem(P);
        return UINT32_MAX;
    }
    memcpy(P->sets[P->n_sets], set, 32);
    P->set_slot[k] = P->n_sets + 1;
    return P->n_sets++;
}

static uint32_t range_set(parser *P, unsigned lo, unsigned hi) {
    uint64_t set[4] = {0, 0, 0, 0};
    for (unsigned b = lo; b <= hi; b++) set[b >> 6] |= 1ull << (b & 63);
    return intern_set(P, set);
}

/* ------------------------------------------------------------------------ */
/* Lexing                                                                   */
/* ------------------------------------------------------------------------ */

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Skips blanks and comments; newlines too when newline_ok. */
static void skip_space(parser *P, bool newline_ok) {
    while (P->i < P->n) {
        const char c = P->s[P->i];
        if (c == ' ' || c == '\t') {
            P->i++;
        } else if (c == '#') {
            while (P->i < P->n && P->s[P->i] != '\n' && P->s[P->i] != '\r') P->i++;
        } else if (newline_ok && (c == '\n' || c == '\r')) {
            P->i++;
        } else {
            break;
        }
    }
}

/* Decodes one UTF-8 character at P->i into *cp. */
static bool decode_utf8(parser *P, uint32_t *cp) {
    const uint8_t *s = (const uint8_t *)P->s + P->i;
    const size_t left = P->n - P->i;
    const uint8_t c = s[0];
    int len;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        P->i++;
        return true;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
    } else {
        return fail_at(P, P->i, ADM_ERR_FORMAT, "invalid UTF-8 byte 0x%02X", c);
    }
    if ((size_t)len > left) return fail_at(P, P->i, ADM_ERR_FORMAT, "truncated UTF-8 character");
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return fail_at(P, P->i, ADM_ERR_FORMAT, "invalid UTF-8 sequence");
        v = (v << 6) | (s[k] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return fail_at(P, P->i, ADM_ERR_FORMAT, "invalid UTF-8 sequence");
    *cp = v;
    P->i += (size_t)len;
    return true;
}

static int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a literal or class (escapes decoded). */
static bool parse_char(parser *P, uint32_t *cp) {
    if (P->i >= P->n) return fail_at(P, P->i, ADM_ERR_FORMAT, "unexpected end of the grammar");
    if (P->s[P->i] != '\\') return decode_utf8(P, cp);
    const size_t at = P->i;
    if (P->i + 1 >= P->n) return fail_at(P, at, ADM_ERR_FORMAT, "unexpected end of the grammar after '\\'");
    const char e = P->s[P->i + 1];
    P->i += 2;
    int digits = 0;
    switch (e) {
    case 'n': *cp = '\n'; return true;
    case 'r': *cp = '\r'; return true;
    case 't': *cp = '\t'; return true;
    case '\\': case '"': case '[': case ']': case '-': case '^': case '/': case '\'':
        *cp = (uint32_t)(unsigned char)e;
        return true;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default:
        return fail_at(P, at, ADM_ERR_FORMAT, "unknown escape '\\%c'", e);
    }
    uint32_t v = 0;
    for (int k = 0; k < digits; k++) {
        const int h = P->i < P->n ? hex_val(P->s[P->i]) : -1;
        if (h < 0) return fail_at(P, at, ADM_ERR_FORMAT, "'\\%c' needs %d hexadecimal digits", e, digits);
        v = (v << 4) | (uint32_t)h;
        P->i++;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF && e != 'x'))
        return fail_at(P, at, ADM_ERR_FORMAT, "'\\%c' escape U+%X is not a Unicode scalar value", e, v);
    *cp = v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Code point ranges -> UTF-8 byte sequences                                */
/* ------------------------------------------------------------------------ */

typedef struct u8seq {
    int len;
    uint8_t lo[4], hi[4];
} u8seq;

typedef struct seqvec {
    u8seq *p;
    uint32_t n, cap;
} seqvec;

static int utf8_encode(uint32_t cp, uint8_t *b) {
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (uint8_t)(0xF0 | (cp >> 18));
    b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Appends the byte-range sequences matching exactly the UTF-8 encodings of
 * code points lo..hi (no surrogates inside). Splits the range until every
 * byte position varies over a full range independently of the others. */
static bool utf8_split(seqvec *v, uint32_t lo, uint32_t hi) {
    static const uint32_t bounds[3] = {0x7F, 0x7FF, 0xFFFF};
    for (int k = 0; k < 3; k++)
        if (lo <= bounds[k] && hi > bounds[k])
            return utf8_split(v, lo, bounds[k]) && utf8_split(v, bounds[k] + 1, hi);
    for (int k = 1; k < 4; k++) {
        const uint32_t m = (1u << (6 * k)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) return utf8_split(v, lo, lo | m) && utf8_split(v, (lo | m) + 1, hi);
            if ((hi & m) != m) return utf8_split(v, lo, (hi & ~m) - 1) && utf8_split(v, hi & ~m, hi);
        }
    }
    if (!grow(&v->p, &v->cap, (uint64_t)v->n + 1, sizeof(u8seq))) return false;
    u8seq *s = &v->p[v->n++];
    s->len = utf8_encode(lo, s->lo);
    utf8_encode(hi, s->hi);
    return true;
}

typedef struct cprange {
    uint32_t lo, hi;
} cprange;

static int cprange_cmp(const void *a, const void *b) {
    const cprange *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Appends to rule r the elements matching one character from the ranges
 * (negated: any character outside them). */
static bool emit_class(parser *P, uint32_t r, cprange *rg, uint32_t n, bool negate, size_t at) {
    if (n > 1) qsort(rg, n, sizeof(cprange), cprange_cmp);
    uint32_t m = 0; /* merged in place */
    for (uint32_t k = 0; k < n; k++) {
        if (m > 0 && rg[k].lo <= rg[m - 1].hi + 1) {
            if (rg[k].hi > rg[m - 1].hi) rg[m - 1].hi = rg[k].hi;
        } else {
            rg[m++] = rg[k];
        }
    }
    /* The code points to match, without surrogates (not encodable). */
    cprange *want = adm_alloc(((size_t)m + 2) * 2 * sizeof(cprange));
    if (!want) return nomem(P);
    uint32_t nw = 0;
    if (negate) {
        uint32_t next = 0;
        for (uint32_t k = 0; k < m; k++) {
            if (rg[k].lo > next) want[nw++] = (cprange){next, rg[k].lo - 1};
            next = rg[k].hi + 1;
        }
        if (next <= 0x10FFFF) want[nw++] = (cprange){next, 0x10FFFF};
    } else {
        memcpy(want, rg, (size_t)m * sizeof(cprange));
        nw = m;
    }
    seqvec sv = {0};
    bool ok = true;
    for (uint32_t k = 0; k < nw && ok; k++) {
        uint32_t lo = want[k].lo, hi = want[k].hi;
        if (lo <= 0xDFFF && hi >= 0xD800) {
            if (lo < 0xD800) ok = utf8_split(&sv, lo, 0xD7FF);
            if (ok && hi > 0xDFFF) ok = utf8_split(&sv, 0xE000, hi);
        } else {
            ok = utf8_split(&sv, lo, hi);
        }
    }
    adm_free(want);
    if (!ok) {
        adm_free(sv.p);
        return nomem(P);
    }
    if (sv.n == 0) {
        adm_free(sv.p);
        return fail_at(P, at, ADM_ERR_FORMAT, "the character class matches no character");
    }
    /* Sequences of the same length whose later bytes agree differ only in
     * their first byte: one sequence with the union of first bytes
     * (single bytes all merge into one set). */
    uint64_t (*first)[4] = adm_calloc(sv.n, 32);
    if (!first) {
        adm_free(sv.p);
        return nomem(P);
    }
    uint32_t ns = 0;
    for (uint32_t k = 0; k < sv.n; k++) {
        const u8seq *s = &sv.p[k];
        uint32_t j = 0;
        for (; j < ns; j++) {
            const u8seq *t = &sv.p[j];
            if (t->len == s->len && !memcmp(t->lo + 1, s->lo + 1, (size_t)s->len - 1) &&
                !memcmp(t->hi + 1, s->hi + 1, (size_t)s->len - 1))
                break;
        }
        if (j == ns) sv.p[ns++] = *s;
        for (unsigned b = s->lo[0]; b <= s->hi[0]; b++) first[j][b >> 6] |= 1ull << (b & 63);
    }
    /* One sequence: inline; several: a helper rule of alternatives. */
    uint32_t target = r;
    if (ns > 1) {
        target = new_rule(P, NULL);
        if (target == UINT32_MAX) ok = false;
    }
    for (uint32_t k = 0; k < ns && ok; k++) {
        const u8seq *s = &sv.p[k];
        uint32_t set = intern_set(P, first[k]);
        ok = set != UINT32_MAX && push_elem(P, target, GR_SET, set);
        for (int b = 1; b < s->len && ok; b++) {
            set = range_set(P, s->lo[b], s->hi[b]);
            ok = set != UINT32_MAX && push_elem(P, target, GR_SET, set);
        }
        if (ok && ns > 1) ok = push_elem(P, target, GR_END, 0);
    }
    if (ok && ns > 1) ok = push_elem(P, r, GR_REF, target);
    adm_free(first);
    adm_free(sv.p);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Syntax                                                                   */
/* ------------------------------------------------------------------------ */

static bool parse_alternates(parser *P, uint32_t r, bool nested);

/* Moves the elements [from, end) of rule r's body into a new helper rule
 * (one alternative) and returns it; the body is cut back to from. */
static uint32_t wrap_tail(parser *P, uint32_t r, uint32_t from) {
    const uint32_t w = new_rule(P, NULL);
    if (w == UINT32_MAX) return w;
    evec *src = &P->rules[r].body, *dst = &P->rules[w].body;
    const uint32_t k = src->n - from;
    if (!grow(&dst->p, &dst->cap, (uint64_t)k + 1, sizeof(gr_elem))) {
        nomem(P);
        return UINT32_MAX;
    }
    if (k) memcpy(dst->p, src->p + from, (size_t)k * sizeof(gr_elem));
    dst->p[k] = (gr_elem){GR_END, 0};
    dst->n = k + 1;
    src->n = from;
    P->n_elems++;
    return w;
}

/* Applies x{min,max} (max UINT32_MAX: unbounded) to the elements [from,
 * end) of rule r's body. */
static bool repeat(parser *P, uint32_t r, uint32_t from, uint32_t min, uint32_t max, size_t at) {
    if (from == P->rules[r].body.n) return fail_at(P, at, ADM_ERR_FORMAT, "a repetition needs something to repeat");
    if (min > GR_MAX_REPEAT || (max != UINT32_MAX && max > GR_MAX_REPEAT))
        return fail_at(P, at, ADM_ERR_UNSUPPORTED, "repetition count over %d", GR_MAX_REPEAT);
    if (max != UINT32_MAX && max < min)
        return fail_at(P, at, ADM_ERR_FORMAT, "repetition {%u,%u}: the maximum is below the minimum", min, max);
    gr_elem x;
    if (P->rules[r].body.n - from == 1) {
        x = P->rules[r].body.p[from];
        P->rules[r].body.n = from;
        P->n_elems--;
    } else {
        const uint32_t w = wrap_tail(P, r, from);
        if (w == UINT32_MAX) return false;
        x = (gr_elem){GR_REF, w};
    }
    const uint64_t extra = max == UINT32_MAX ? 4 : (uint64_t)(max - min) * 4;
    if (P->n_elems + min + extra > GR_MAX_ELEMS) return too_large(P);
    for (uint32_t k = 0; k < min; k++)
        if (!push_elem(P, r, x.kind, x.arg)) return false;
    if (max == UINT32_MAX) {
        /* S ::= x S | "" */
        const uint32_t s = new_rule(P, NULL);
        if (s == UINT32_MAX) return false;
        return push_elem(P, s, x.kind, x.arg) && push_elem(P, s, GR_REF, s) && push_elem(P, s, GR_END, 0) &&
               push_elem(P, s, GR_END, 0) && push_elem(P, r, GR_REF, s);
    }
    /* O_1 ::= x | "", O_k ::= x O_{k-1} | "" */
    uint32_t prev = UINT32_MAX;
    for (uint32_t k = min; k < max; k++) {
        const uint32_t o = new_rule(P, NULL);
        if (o == UINT32_MAX || !push_elem(P, o, x.kind, x.arg)) return false;
        if (prev != UINT32_MAX && !push_elem(P, o, GR_REF, prev)) return false;
        if (!push_elem(P, o, GR_END, 0) || !push_elem(P, o, GR_END, 0)) return false;
        prev = o;
    }
    return prev == UINT32_MAX || push_elem(P, r, GR_REF, prev);
}

static bool parse_uint(parser *P, uint32_t *v) {
    if (P->i >= P->n || P->s[P->i] < '0' || P->s[P->i] > '9') return false;
    uint64_t x = 0;
    while (P->i < P->n && P->s[P->i] >= '0' && P->s[P->i] <= '9') {
        x = x * 10 + (uint64_t)(P->s[P->i++] - '0');
        if (x > UINT32_MAX - 1) x = UINT32_MAX - 1;
    }
    *v = (uint32_t)x;
    return true;
}

static bool parse_class(parser *P, uint32_t r) {
    const size_t at = P->i;
    P->i++; /* [ */
    bool negate = false;
    if (P->i < P->n && P->s[P->i] == '^') {
        negate = true;
        P->i++;
    }
    cprange *rg = NULL;
    uint32_t n = 0, cap = 0;
    bool ok = true;
    while (ok) {
        if (P->i >= P->n) {
            ok = fail_at(P, at, ADM_ERR_FORMAT, "unterminated character class");
            break;
        }
        if (P->s[P->i] == ']') {
            P->i++;
            break;
        }
        uint32_t lo, hi;
        if (!(ok = parse_char(P, &lo))) break;
        hi = lo;
        if (P->i + 1 < P->n && P->s[P->i] == '-' && P->s[P->i + 1] != ']') {
            P->i++;
            if (!(ok = parse_char(P, &hi))) break;
            if (hi < lo) {
                ok = fail_at(P, at, ADM_ERR_FORMAT, "character range is reversed (U+%04X-U+%04X)", lo, hi);
                break;
            }
        }
        if (!grow(&rg, &cap, (uint64_t)n + 1, sizeof(cprange))) {
            ok = nomem(P);
            break;
        }
        rg[n++] = (cprange){lo, hi};
    }
    if (ok && n == 0 && !negate) ok = fail_at(P, at, ADM_ERR_FORMAT, "empty character class");
    if (ok) ok = emit_class(P, r, rg, n, negate, at);
    adm_free(rg);
    return ok;
}

static bool parse_sequence(parser *P, uint32_t r, bool nested) {
    uint32_t last = UINT32_MAX; /* body index where the last element starts */
    while (P->i < P->n && P->st == ADM_OK) {
        const char c = P->s[P->i];
        const size_t at = P->i;
        const uint32_t here = P->rules[r].body.n;
        if (c == '"') {
            P->i++;
            last = here;
            for (;;) {
                if (P->i >= P->n) return fail_at(P, at, ADM_ERR_FORMAT, "unterminated string literal");
                if (P->s[P->i] == '"') {
                    P->i++;
                    break;
                }
                uint32_t cp;
                if (!parse_char(P, &cp)) return false;
                uint8_t b[4];
                const int len = utf8_encode(cp, b);
                for (int k = 0; k < len; k++) {
                    const uint32_t set = range_set(P, b[k], b[k]);
                    if (set == UINT32_MAX || !push_elem(P, r, GR_SET, set)) return false;
                }
            }
        } else if (c == '[') {
            last = here;
            if (!parse_class(P, r)) return false;
        } else if (c == '.') {
            P->i++;
            last = here;
            cprange all = {0, 0x10FFFF};
            if (!emit_class(P, r, &all, 1, false, at)) return false;
        } else if (is_name_char(c)) {
            size_t e = P->i;
            while (e < P->n && is_name_char(P->s[e])) e++;
            const uint32_t ref = rule_by_name(P, P->s + P->i, e - P->i);
            if (ref == UINT32_MAX) return false;
            if (P->rules[ref].ref_off == SIZE_MAX) P->rules[ref].ref_off = P->i;
            P->i = e;
            last = here;
            if (!push_elem(P, r, GR_REF, ref)) return false;
        } else if (c == '(') {
            if (++P->depth > GR_MAX_NESTING)
                return fail_at(P, at, ADM_ERR_UNSUPPORTED, "parentheses nested over %d deep", GR_MAX_NESTING);
            P->i++;
            const uint32_t g = new_rule(P, NULL);
            if (g == UINT32_MAX) return false;
            skip_space(P, true);
            if (!parse_alternates(P, g, true)) return false;
            if (P->i >= P->n || P->s[P->i] != ')') return fail_at(P, at, ADM_ERR_FORMAT, "'(' without a matching ')'");
            P->i++;
            P->depth--;
            last = here;
            if (!push_elem(P, r, GR_REF, g)) return false;
        } else if (c == '*' || c == '+' || c == '?') {
            P->i++;
            if (last == UINT32_MAX) return fail_at(P, at, ADM_ERR_FORMAT, "'%c' must follow something to repeat", c);
            const uint32_t min = c == '+' ? 1 : 0, max = c == '?' ? 1 : UINT32_MAX;
            if (!repeat(P, r, last, min, max, at)) return false;
            last = UINT32_MAX;
        } else if (c == '{') {
            P->i++;
            if (last == UINT32_MAX) return fail_at(P, at, ADM_ERR_FORMAT, "'{' must follow something to repeat");
            uint32_t min = 0, max;
            skip_space(P, false);
            const bool has_min = parse_uint(P, &min);
            skip_space(P, false);
            if (P->i < P->n && P->s[P->i] == ',') {
                P->i++;
                skip_space(P, false);
                if (!parse_uint(P, &max)) max = UINT32_MAX;
                skip_space(P, false);
            } else {
                if (!has_min) return fail_at(P, at, ADM_ERR_FORMAT, "expected a number after '{'");
                max = min;
            }
            if (P->i >= P->n || P->s[P->i] != '}') return fail_at(P, at, ADM_ERR_FORMAT, "expected '}' to end the repetition");
            P->i++;
            if (!repeat(P, r, last, min, max, at)) return false;
            last = UINT32_MAX;
        } else {
            break;
        }
        skip_space(P, nested);
    }
    return P->st == ADM_OK;
}

static bool parse_alternates(parser *P, uint32_t r, bool nested) {
    for (;;) {
        if (!parse_sequence(P, r, nested) || !push_elem(P, r, GR_END, 0)) return false;
        if (P->i < P->n && P->s[P->i] == '|') {
            P->i++;
            skip_space(P, true);
            continue;
        }
        return true;
    }
}

static bool parse_rule(parser *P) {
    const size_t at = P->i;
    size_t e = P->i;
    while (e < P->n && is_name_char(P->s[e])) e++;
    if (e == P->i) return fail_at(P, at, ADM_ERR_FORMAT, "expected a rule name");
    const uint32_t r = rule_by_name(P, P->s + P->i, e - P->i);
    if (r == UINT32_MAX) return false;
    if (P->rules[r].def_off != SIZE_MAX) {
        int l, c;
        line_col(P->s, P->rules[r].def_off, &l, &c);
        return fail_at(P, at, ADM_ERR_FORMAT, "rule '%s' is defined twice (first at line %d, column %d)",
                       P->rules[r].name, l, c);
    }
    P->rules[r].def_off = at;
    P->cur = r;
    P->i = e;
    skip_space(P, false);
    if (P->n - P->i < 3 || memcmp(P->s + P->i, "::=", 3) != 0)
        return fail_at(P, P->i, ADM_ERR_FORMAT, "expected '::=' after rule name '%s'", P->rules[r].name);
    P->i += 3;
    skip_space(P, true);
    if (!parse_alternates(P, r, false)) return false;
    if (P->i < P->n) {
        if (P->s[P->i] == '\r') P->i++;
        if (P->i < P->n && P->s[P->i] == '\n') {
            P->i++;
        } else if (P->i < P->n) {
            if (P->s[P->i] == ')') return fail_at(P, P->i, ADM_ERR_FORMAT, "')' without a matching '('");
            return fail_at(P, P->i, ADM_ERR_FORMAT, "unexpected '%c'", P->s[P->i]);
        }
    }
    skip_space(P, true);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Checks and the final program                                             */
/* ------------------------------------------------------------------------ */

static const char *rule_label(const parser *P, uint32_t r) {
    const char *nm = P->rules[P->rules[r].origin].name;
    return nm ? nm : "?";
}

/* productive[r]: rule r derives some finite string. Alternatives using a
 * rule that does not are dropped (they match nothing), so that every stack
 * the matcher keeps can still finish. */
static bool prune_unproductive(parser *P, uint8_t *productive) {
    bool changed = true;
    while (changed) {
        changed = false;
        for (uint32_t r = 0; r < P->n_rules; r++) {
            if (productive[r]) continue;
            const evec *b = &P->rules[r].body;
            bool alt_ok = true;
            for (uint32_t k = 0; k < b->n; k++) {
                if (b->p[k].kind == GR_END) {
                    if (alt_ok) {
                        productive[r] = 1;
                        changed = true;
                        break;
                    }
                    alt_ok = true;
                } else if (b->p[k].kind == GR_REF && !productive[b->p[k].arg]) {
                    alt_ok = false;
                }
            }
        }
    }
    for (uint32_t r = 0; r < P->n_rules; r++) {
        evec *b = &P->rules[r].body;
        uint32_t w = 0, start = 0;
        bool alt_ok = true;
        for (uint32_t k = 0; k < b->n; k++) {
            if (b->p[k].kind == GR_END) {
                if (alt_ok) {
                    memmove(b->p + w, b->p + start, (size_t)(k + 1 - start) * sizeof(gr_elem));
                    w += k + 1 - start;
                }
                start = k + 1;
                alt_ok = true;
            } else if (b->p[k].kind == GR_REF && !productive[b->p[k].arg]) {
                alt_ok = false;
            }
        }
        b->n = w;
    }
    return true;
}

/* Left recursion: rule r can reach a call of itself without consuming a
 * byte. Edges r -> s where s is called at a position of r preceded only by
 * nullable rules; an iterative DFS looks for a cycle. */
static bool check_left_recursion(parser *P) {
    const uint32_t n = P->n_rules;
    uint8_t *nullable = adm_calloc(n, 1), *color = adm_calloc(n, 1);
    uint32_t *first = adm_alloc(((size_t)n + 1) * sizeof(uint32_t)), *stack = adm_alloc(((size_t)n + 1) * 2 * sizeof(uint32_t));
    uint32_t *edge = NULL, n_edge = 0, cap_edge = 0;
    bool ok = true;
    if (!nullable || !color || !first || !stack) ok = nomem(P);
    for (bool changed = ok; changed;) {
        changed = false;
        for (uint32_t r = 0; r < n; r++) {
            if (nullable[r]) continue;
            const evec *b = &P->rules[r].body;
            bool null_alt = true;
            for (uint32_t k = 0; k < b->n; k++) {
                const gr_elem e = b->p[k];
                if (e.kind == GR_END) {
                    if (null_alt) {
                        nullable[r] = 1;
                        changed = true;
                        break;
                    }
                    null_alt = true;
                } else if (e.kind == GR_SET || !nullable[e.arg]) {
                    null_alt = false;
                }
            }
        }
    }
    for (uint32_t r = 0; r < n && ok; r++) {
        first[r] = n_edge;
        const evec *b = &P->rules[r].body;
        bool lead = true;
        for (uint32_t k = 0; k < b->n && ok; k++) {
            const gr_elem e = b->p[k];
            if (e.kind == GR_END) {
                lead = true;
            } else if (lead) {
                if (e.kind == GR_REF) {
                    if (!grow(&edge, &cap_edge, (uint64_t)n_edge + 1, sizeof(uint32_t))) ok = nomem(P);
                    else edge[n_edge++] = e.arg;
                }
                lead = e.kind == GR_REF && nullable[e.arg];
            }
        }
    }
    if (ok) first[n] = n_edge;
    /* stack of (rule, next edge index) */
    for (uint32_t s = 0; s < n && ok; s++) {
        if (color[s]) continue;
        uint32_t sp = 0;
        stack[sp++] = s;
        stack[sp++] = first[s];
        color[s] = 1;
        while (sp && ok) {
            const uint32_t r = stack[sp - 2], k = stack[sp - 1];
            if (k == first[r + 1]) {
                color[r] = 2;
                sp -= 2;
                continue;
            }
            stack[sp - 1] = k + 1;
            const uint32_t callee = edge[k];
            if (color[callee] == 1) {
                const brule *cr = &P->rules[P->rules[callee].origin];
                ok = fail_at(P, cr->def_off == SIZE_MAX ? 0 : cr->def_off, ADM_ERR_UNSUPPORTED,
                             "rule '%s' is left-recursive (it can begin with itself without consuming text); "
                             "rewrite it with repetition, e.g. a ::= b (\"op\" b)*",
                             rule_label(P, callee));
            } else if (color[callee] == 0) {
                color[callee] = 1;
                stack[sp++] = callee;
                stack[sp++] = first[callee];
            }
        }
    }
    adm_free(nullable);
    adm_free(color);
    adm_free(first);
    adm_free(stack);
    adm_free(edge);
    return ok;
}

void gr_program_free(gr_program *p) {
    if (!p) return;
    adm_free(p->elems);
    adm_free(p->alt_start);
    adm_free(p->rule_alt);
    adm_free(p->sets);
    adm_free(p);
}

static void parser_free(parser *P) {
    for (uint32_t r = 0; r < P->n_rules; r++) {
        adm_free(P->rules[r].name);
        adm_free(P->rules[r].body.p);
    }
    adm_free(P->rules);
    adm_free(P->name_slot);
    adm_free(P->sets);
    adm_free(P->set_slot);
}

/* Byte classes: bytes that every set treats alike. */
static void compute_classes(gr_program *g) {
    uint8_t cls[256] = {0};
    uint32_t n = 1;
    uint8_t remap[512];
    for (uint32_t s = 0; s < g->n_sets; s++) {
        /* split each class by membership in set s */
        memset(remap, 0xFF, sizeof(remap));
        uint32_t nn = 0;
        for (unsigned b = 0; b < 256; b++) {
            const unsigned key = cls[b] * 2u + (gr_set_has(g, s, b) ? 1u : 0u);
            if (remap[key] == 0xFF) remap[key] = (uint8_t)nn++;
            cls[b] = remap[key];
        }
        n = nn;
    }
    g->n_classes = n;
    memcpy(g->byte_class, cls, 256);
    for (int b = 255; b >= 0; b--) g->rep[cls[b]] = (uint8_t)b;
}

static bool build_program(parser *P, gr_program **out) {
    gr_program *g = adm_calloc(1, sizeof(*g));
    if (!g) return nomem(P);
    uint64_t ne = 0, na = 0;
    for (uint32_t r = 0; r < P->n_rules; r++) {
        ne += P->rules[r].body.n;
        for (uint32_t k = 0; k < P->rules[r].body.n; k++) na += P->rules[r].body.p[k].kind == GR_END;
    }
    g->elems = adm_alloc((size_t)(ne + 1) * sizeof(gr_elem));
    g->alt_start = adm_alloc((size_t)(na + 1) * sizeof(uint32_t));
    g->rule_alt = adm_alloc(((size_t)P->n_rules + 1) * sizeof(uint32_t));
    g->sets = adm_alloc(((size_t)P->n_sets + 1) * 32);
    if (!g->elems || !g->alt_start || !g->rule_alt || !g->sets) {
        gr_program_free(g);
        return nomem(P);
    }
    uint32_t e = 0, a = 0;
    for (uint32_t r = 0; r < P->n_rules; r++) {
        g->rule_alt[r] = a;
        const evec *b = &P->rules[r].body;
        bool start = true;
        for (uint32_t k = 0; k < b->n; k++) {
            if (start) g->alt_start[a++] = e;
            g->elems[e++] = b->p[k];
            start = b->p[k].kind == GR_END;
        }
    }
    g->rule_alt[P->n_rules] = a;
    g->elems[e] = (gr_elem){GR_END, 0}; /* sentinel */
    g->n_elems = e;
    g->n_rules = P->n_rules;
    /* P->sets is NULL when the grammar has no character classes. */
    if (P->n_sets) memcpy(g->sets, P->sets, (size_t)P->n_sets * 32);
    g->n_sets = P->n_sets;
    compute_classes(g);
    *out = g;
    return true;
}

adm_status gr_parse_gbnf(const char *text, size_t len, gr_program **out, adm_error *err) {
    *out = NULL;
    parser P = {.s = text, .n = len, .err = err, .st = ADM_OK};
    if (len > ((size_t)1 << 30)) return adm_fail(err, ADM_ERR_UNSUPPORTED, "grammar: text over 1 GiB");
    skip_space(&P, true);
    while (P.i < P.n && P.st == ADM_OK)
        if (!parse_rule(&P)) break;
    uint32_t root = UINT32_MAX;
    if (P.st == ADM_OK) {
        for (uint32_t r = 0; r < P.n_rules && P.st == ADM_OK; r++)
            if (P.rules[r].name && P.rules[r].def_off == SIZE_MAX)
                fail_at(&P, P.rules[r].ref_off, ADM_ERR_FORMAT, "undefined rule '%s'", P.rules[r].name);
    }
    if (P.st == ADM_OK) {
        for (uint32_t r = 0; r < P.n_rules; r++)
            if (P.rules[r].name && !strcmp(P.rules[r].name, "root")) root = r;
        if (root == UINT32_MAX)
            P.st = adm_fail(err, ADM_ERR_FORMAT, "grammar: no rule named 'root' (the start rule)");
    }
    if (P.st == ADM_OK) {
        uint8_t *productive = adm_calloc(P.n_rules, 1);
        if (!productive) {
            nomem(&P);
        } else {
            prune_unproductive(&P, productive);
            if (!productive[root])
                P.st = adm_fail(err, ADM_ERR_FORMAT, "grammar: rule 'root' matches no text (every alternative "
                                "recurses without end or needs an undefinable rule)");
            adm_free(productive);
        }
    }
    if (P.st == ADM_OK) check_left_recursion(&P);
    gr_program *g = NULL;
    if (P.st == ADM_OK && build_program(&P, &g)) g->root = root;
    parser_free(&P);
    if (P.st != ADM_OK) return P.st;
    *out = g;
    return ADM_OK;
}
