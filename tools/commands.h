/*
 * commands.h - the subcommands of the `adamas` program. Each lives in its
 * own tools/cmd_<name>.c, uses only include/adamas.h (plus tools/args.h),
 * and returns the process exit code: 0 success, 1 runtime failure (bad model
 * file, ...), 2 usage error.
 */
#ifndef ADM_TOOLS_COMMANDS_H
#define ADM_TOOLS_COMMANDS_H

int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_gen_model(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_prefill(int argc, char **argv);
int cmd_batched_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
