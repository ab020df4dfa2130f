/*
 * chat_template.c - rendering conversations in the prompt formats models
 * were trained with. GGUF files carry a Jinja template; instead of a Jinja
 * interpreter, the families below are recognized by their markers (as
 * llama.cpp does) and written out by plain code that is easy to check
 * against the templates by eye.
 */
#include "base.h"

#include <stdio.h>
#include <string.h>

static const char *k_names[] = {"chatml", "llama3", "llama2", "mistral", "gemma", "phi3"};

const char *adm_chat_format_name(adm_chat_format f) {
    return (unsigned)f < sizeof(k_names) / sizeof(k_names[0]) ? k_names[f] : "unknown";
}

bool adm_chat_format_from_name(const char *name, adm_chat_format *out) {
    for (size_t i = 0; i < sizeof(k_names) / sizeof(k_names[0]); i++)
        if (!strcmp(name, k_names[i])) {
            *out = (adm_chat_format)i;
            return true;
        }
    return false;
}

adm_chat_format adm_chat_detect(const char *t, bool *recognized) {
    *recognized = true;
    if (t && strstr(t, "<|im_start|>")) return ADM_CHAT_CHATML;
    if (t && strstr(t, "<|start_header_id|>") && strstr(t, "<|end_header_id|>")) return ADM_CHAT_LLAMA3;
    if (t && strstr(t, "<start_of_turn>")) return ADM_CHAT_GEMMA;
    if (t && strstr(t, "<|assistant|>") && strstr(t, "<|end|>")) return ADM_CHAT_PHI3;
    if (t && strstr(t, "[INST]")) return strstr(t, "<<SYS>>") ? ADM_CHAT_LLAMA2 : ADM_CHAT_MISTRAL;
    *recognized = false;
    return ADM_CHAT_CHATML;
}

typedef struct out_buf {
    char *p;
    int64_t size, len;
} out_buf;

static void put(out_buf *o, const char *s) {
    const int64_t n = (int64_t)strlen(s);
    if (o->len + n < o->size) memcpy(o->p + o->len, s, (size_t)n);
    else if (o->len < o->size) memcpy(o->p + o->len, s, (size_t)(o->size - o->len));
    o->len += n;
}

static bool is(const adm_chat_msg *m, const char *role) { return strcmp(m->role, role) == 0; }

/* Formats whose turns are "<open role><content><close>" one after another. */
static void render_turns(out_buf *o, const adm_chat_msg *m, int n, bool add, const char *open_pre, const char *open_post,
                         const char *close) {
    for (int i = 0; i < n; i++) {
        put(o, open_pre);
        put(o, m[i].role);
        put(o, open_post);
        put(o, m[i].content);
        put(o, close);
    }
    if (add) {
        put(o, open_pre);
        put(o, "assistant");
        put(o, open_post);
    }
}

/* [INST] formats. Llama 2 puts the system prompt in a <<SYS>> block inside
 * the first instruction; Mistral's templates prepend it to the first user
 * message. Each completed answer ends with </s>. */
static void render_inst(out_buf *o, const adm_chat_msg *m, int n, bool add, bool llama2) {
    const char *system = NULL;
    bool first_user = true;
    for (int i = 0; i < n; i++) {
        if (is(&m[i], "system")) {
            system = m[i].content;
        } else if (is(&m[i], "user")) {
            put(o, "[INST] ");
            if (system && first_user) {
                if (llama2) {
                    put(o, "<<SYS>>\n");
                    put(o, system);
                    put(o, "\n<</SYS>>\n\n");
                } else {
                    put(o, system);
                    put(o, "\n\n");
                }
            }
            first_user = false;
            put(o, m[i].content);
            put(o, " [/INST]");
        } else {
            put(o, " ");
            put(o, m[i].content);
            put(o, "</s>");
        }
    }
    (void)add; /* the reply follows "[/INST]" directly */
}

/* Gemma has no system role: the system prompt opens the first user turn;
 * the assistant is called "model". */
static void render_gemma(out_buf *o, const adm_chat_msg *m, int n, bool add) {
    const char *system = NULL;
    for (int i = 0; i < n; i++) {
        if (is(&m[i], "system")) {
            system = m[i].content;
            continue;
        }
        put(o, "<start_of_turn>");
        put(o, is(&m[i], "assistant") ? "model" : "user");
        put(o, "\n");
        if (system && is(&m[i], "user")) {
            put(o, system);
            put(o, "\n\n");
            system = NULL;
        }
        put(o, m[i].content);
        put(o, "<end_of_turn>\n");
    }
    if (add) put(o, "<start_of_turn>model\n");
}

int64_t adm_chat_render(adm_chat_format f, const adm_chat_msg *msgs, int n, bool add, char *out, int64_t size) {
    out_buf o = {out, size, 0};
    switch (f) {
    case ADM_CHAT_LLAMA3:
        render_turns(&o, msgs, n, add, "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>");
        break;
    case ADM_CHAT_LLAMA2: render_inst(&o, msgs, n, add, true); break;
    case ADM_CHAT_MISTRAL: render_inst(&o, msgs, n, add, false); break;
    case ADM_CHAT_GEMMA: render_gemma(&o, msgs, n, add); break;
    case ADM_CHAT_PHI3: render_turns(&o, msgs, n, add, "<|", "|>\n", "<|end|>\n"); break;
    case ADM_CHAT_CHATML:
    default: render_turns(&o, msgs, n, add, "<|im_start|>", "\n", "<|im_end|>\n"); break;
    }
    if (size > 0) out[o.len < size ? o.len : size - 1] = 0;
    return o.len;
}
