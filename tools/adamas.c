/*
 * adamas.c - the `adamas` command: dispatches to one subcommand per file.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command k_commands[] = {
    {"run", cmd_run, "generate a continuation of a prompt, streamed to stdout"},
    {"chat", cmd_chat, "talk with a model in its chat format (keeps the KV cache between turns)"},
    {"prefill", cmd_prefill, "evaluate a document once and save a snapshot for --prompt-cache"},
    {"serve", cmd_serve, "an OpenAI-compatible HTTP server with continuous batching and a chat page"},
    {"bench", cmd_bench, "prompt and generation speed at several context depths (llama-bench style)"},
    {"batched-bench", cmd_batched_bench, "aggregate speed of many sequences decoded together (llama-batched-bench style)"},
    {"info", cmd_info, "print a GGUF file's metadata, tensors and hyperparameters"},
    {"logits", cmd_logits, "evaluate a prompt and write the logits of every position"},
    {"perplexity", cmd_perplexity, "perplexity of a text (llama.cpp's method), KL divergence against saved logits"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"gen-model", cmd_gen_model, "write a random-weight GGUF model of any shape and weight type"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: adamas <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(k_commands) / sizeof(k_commands[0]); i++)
        fprintf(f, "  %-12s %s\n", k_commands[i].name, k_commands[i].help);
    fprintf(f, "\nRun 'adamas <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("adamas 0.1.0 (kernels: %s)\n", adm_isa_name());
        return 0;
    }
    for (size_t i = 0; i < sizeof(k_commands) / sizeof(k_commands[0]); i++)
        if (!strcmp(argv[1], k_commands[i].name)) {
            /* The command's arguments, with room to split --opt=value. */
            char **av = args_prepare(argc - 1, argv + 1);
            if (!av) {
                fprintf(stderr, "adamas: out of memory\n");
                return 1;
            }
            const int rc = k_commands[i].fn(argc - 1, av);
            free(av);
            return rc;
        }
    fprintf(stderr, "adamas: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
