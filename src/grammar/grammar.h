/*
 * grammar.h - internal interfaces of structured output: the compiled
 * grammar program (gbnf.c), the vocabulary byte trie (trie.c), the matcher
 * (matcher.c) and the JSON-schema converter (schema.c).
 *
 * A program is a byte-level context-free grammar: every element is a set of
 * bytes, a reference to a rule, or the end of an alternative. Character
 * classes over code points are compiled to UTF-8 byte sequences when the
 * GBNF text is parsed, so matching never decodes UTF-8 and a token's bytes
 * can be fed one by one, the way the vocabulary trie is walked.
 */
#ifndef ADM_GRAMMAR_H
#define ADM_GRAMMAR_H

#include "base.h"

/* Limits that keep hostile grammars from exhausting memory or time. */
#define GR_MAX_ELEMS (1u << 22)   /* elements after expanding repetitions */
#define GR_MAX_RULES (1u << 20)
#define GR_MAX_SETS (1u << 16)    /* distinct byte sets */
#define GR_MAX_NESTING 128        /* nested parentheses */
#define GR_MAX_REPEAT 100000      /* the n of x{m,n} */
#define GR_MAX_DEPTH 2048         /* rule-call depth of one matching stack */
#define GR_MAX_STACKS 4096        /* stacks alive at once (ambiguous grammars) */
/* Work bounds of the matcher, so that no grammar can make one token take
 * long (a server's inference thread serves every slot): frames expanded
 * while computing one transition, and in all while computing one mask of
 * allowed tokens. Nested repetitions of what may be empty, such as
 * (("a"{0,1000}){0,1000}){0,1000}, otherwise reach millions of frames per
 * step. Past them the parses not yet expanded are dropped: what is
 * generated still matches the grammar. */
#define GR_MAX_CLOSURE (1u << 16)
#define GR_MAX_MASK_WORK (1u << 22)

enum { GR_END = 0, GR_SET = 1, GR_REF = 2 };

typedef struct gr_elem {
    uint32_t kind; /* GR_END, GR_SET, GR_REF */
    uint32_t arg;  /* set index or rule index */
} gr_elem;

typedef struct gr_program {
    gr_elem *elems;
    uint32_t n_elems;
    uint32_t *alt_start;   /* element index of each alternative's first element */
    uint32_t *rule_alt;    /* (n_rules + 1): rule r's alternatives are alt_start[rule_alt[r] .. rule_alt[r+1]) */
    uint32_t n_rules, root;
    uint64_t (*sets)[4];   /* 256-bit byte sets */
    uint32_t n_sets;
    /* Bytes no set tells apart share a class: transitions are computed and
     * cached per class, not per byte. rep[c] is a byte of class c. */
    uint8_t byte_class[256];
    uint8_t rep[256];
    uint32_t n_classes;
} gr_program;

/* Parses GBNF text (llama.cpp's syntax) with start rule `root`. Errors say
 * "line L, column C: ...". */
adm_status gr_parse_gbnf(const char *text, size_t len, gr_program **out, adm_error *err);
void gr_program_free(gr_program *p);

static inline bool gr_set_has(const gr_program *p, uint32_t set, unsigned byte) {
    return (p->sets[set][byte >> 6] >> (byte & 63)) & 1;
}

/* JSON schema -> GBNF text (malloc'd, *out_len bytes, NUL-terminated). Errors
 * name the JSON pointer of the offending keyword. */
adm_status gr_schema_to_gbnf(const char *schema, size_t len, char **out, size_t *out_len, adm_error *err);

/* The vocabulary as a byte trie in preorder: node i (0-based, the root not
 * stored) has byte, depth (1 = a child of the root), the index one past
 * its subtree, and the token ending there (-1: none). Tokens with the same
 * bytes as another are listed in dup (token, the one in the trie). */
typedef struct gr_tnode {
    int32_t end;
    int32_t tok;
    uint16_t depth;
    uint8_t byte;
    uint8_t pad;
} gr_tnode;

enum { GR_TOK_TEXT = 0, GR_TOK_EOG = 1, GR_TOK_NEVER = 2 };

typedef struct gr_trie {
    gr_tnode *nodes;
    uint32_t n_nodes;
    int32_t n_tokens;
    uint8_t *kind;       /* (n_tokens) GR_TOK_* */
    uint32_t *tok_off;   /* (n_tokens + 1) into bytes: each token's bytes */
    uint8_t *bytes;
    int32_t (*dup)[2];
    uint32_t n_dup;
    int32_t *eog;        /* the end-of-generation tokens */
    uint32_t n_eog;
    int max_depth;
} gr_trie;

adm_status gr_trie_build(const adm_vocab *v, gr_trie **out, adm_error *err);
void gr_trie_free(gr_trie *t);
/* The vocabulary's trie, built on first use and kept by the vocabulary
 * (freed with it); safe to call from several threads. */
const gr_trie *gr_vocab_trie(const adm_vocab *v, adm_error *err);

/* The matcher: one sequence's position in the grammar (a set of stacks)
 * plus its caches (see matcher.c). */
typedef struct gr_matcher gr_matcher;
adm_status gr_matcher_create(const gr_program *p, const gr_trie *t, gr_matcher **out, adm_error *err);
void gr_matcher_free(gr_matcher *m);
void gr_matcher_reset(gr_matcher *m);
/* Whether token tok may come next (EOG tokens: whether the grammar may end). */
bool gr_matcher_allows(gr_matcher *m, int32_t tok);
/* Takes token tok if allowed; false (state unchanged) if not. */
bool gr_matcher_accept(gr_matcher *m, int32_t tok);
/* Takes raw bytes (tests and reference checks); false if they leave the grammar. */
bool gr_matcher_accept_bytes(gr_matcher *m, const uint8_t *b, size_t n);
bool gr_matcher_can_end(const gr_matcher *m);
/* Whether a limit (depth, stack count, closure or mask work, memory) has
 * cut parses since the matcher was created: from then on what it accepts
 * may depend on how the input was split into calls. */
bool gr_matcher_cut(const gr_matcher *m);
/* True when no token and no end is possible (only after a limit was hit). */
bool gr_matcher_stuck(const gr_matcher *m);
/* Bitmap (n_tokens bits) of the tokens allowed next; borrowed until the
 * next call on the matcher. NULL on an allocation failure. */
const uint64_t *gr_matcher_mask(gr_matcher *m);
/* Benchmarks: off recomputes every mask (the automaton stays warm). */
void gr_matcher_cache_masks(gr_matcher *m, bool on);

/* For the sampler (grammar.c): the token to end with when a matcher limit
 * left nothing allowed, and the vocabulary size the masks cover. */
int32_t gr_grammar_fallback_end(const adm_grammar *g);
int32_t gr_grammar_n_tokens(const adm_grammar *g);

#endif
