# adamas - one non-recursive Makefile.
#
#   make                 build build/libadamas.a and build/adamas
#   make test            build and run the whole test suite
#   make SAN=1           build with -fsanitize=address,undefined (into build-asan/)
#   make SIMD=0          scalar kernels only (into build-scalar/)
#   make CC=clang        any C11 compiler works; warnings are errors
#   make bench           build the benchmark programs
#   make fuzz            libFuzzer targets (needs clang)
#   make format          clang-format every source file

CC      ?= cc
SIMD    ?= 1
SAN     ?= 0
OPT     ?= -O2

ifeq ($(SAN),1)
BUILD   ?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT      = -O1
else ifeq ($(SIMD),0)
BUILD   ?= build-scalar
else
BUILD   ?= build
endif

PKGS    := libpcre2-8 libutf8proc jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpcre2-8 -lutf8proc -ljansson)
TOOL_PKGS  := jansson libmicrohttpd libedit
TOOL_LIBS  := $(shell pkg-config --libs $(TOOL_PKGS) 2>/dev/null || echo -ljansson -lmicrohttpd -ledit)
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 \
           -Wdouble-promotion -Wno-format-nonliteral
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) $(SANFLAGS) -fvisibility=hidden -pthread \
           -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP -DADM_BUILD -DADM_TESTING
LDFLAGS += $(SANFLAGS) -pthread
LDLIBS  += $(PKG_LIBS) -lm

LIB_SRC := $(wildcard src/*.c src/attention/*.c src/tokenizer/*.c src/grammar/*.c) \
           src/kernels/scalar.c src/kernels/dispatch.c
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 \
                -mavx512vpopcntdq -mavx512vbmi
# Each ISA's kernels live in files named after it (avx2*.c, attn_avx2.c, ...);
# only those files are compiled with that ISA's flags.
AVX2_SRC   := $(wildcard src/kernels/avx2*.c src/kernels/*_avx2.c)
AVX512_SRC := $(wildcard src/kernels/avx512*.c src/kernels/*_avx512.c)
ifeq ($(SIMD),1)
ifneq ($(AVX2_SRC),)
LIB_SRC += $(AVX2_SRC)
CFLAGS  += -DADM_HAVE_AVX2
endif
ifneq ($(AVX512_SRC),)
LIB_SRC += $(AVX512_SRC)
CFLAGS  += -DADM_HAVE_AVX512
endif
ifneq ($(wildcard src/kernels/attn_avx2.c),)
CFLAGS  += -DADM_HAVE_ATTN_AVX2
endif
ifneq ($(wildcard src/kernels/attn_avx512.c),)
CFLAGS  += -DADM_HAVE_ATTN_AVX512
endif
endif

TOOL_SRC  := $(wildcard tools/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_HELP := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
BENCH_SRC := $(wildcard bench/*.c)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/%.o)
TESTH_OBJ := $(TEST_HELP:%.c=$(BUILD)/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIB       := $(BUILD)/libadamas.a
BIN       := $(BUILD)/adamas

.PHONY: all test bench clean format fuzz
all: $(BIN)

$(AVX2_SRC:%.c=$(BUILD)/%.o): CFLAGS += $(AVX2_FLAGS)
$(AVX512_SRC:%.c=$(BUILD)/%.o): CFLAGS += $(AVX512_FLAGS)

# Quiet by default; `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

# Objects depend on the compiler and flags they were built with: a change
# (say a new ISA file appearing, which defines ADM_HAVE_*) rebuilds them all.
FLAGS_FILE := $(BUILD)/.cflags
FLAGS_NOW  := $(CC) $(CFLAGS)
$(shell mkdir -p $(BUILD); echo '$(FLAGS_NOW)' | cmp -s - $(FLAGS_FILE) || echo '$(FLAGS_NOW)' > $(FLAGS_FILE))

$(BUILD)/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(TOOL_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(TOOL_OBJ) $(LIB) $(LDLIBS) $(TOOL_LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TESTH_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $< $(TESTH_OBJ) $(LIB) $(LDLIBS) $(TEST_LIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/replay_main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) $(LIB) $(LDLIBS) $(TOOL_LIBS) -o $@

# A fuzz target of a tool's parser also links that tool's files.
$(BUILD)/fuzz/replay_serve_request: $(BUILD)/tools/serve_request.o $(BUILD)/tools/serve_response.o

# The chat page of `adamas serve`: tools/serve_page.html as a C string literal.
$(BUILD)/gen/serve_page.inc: tools/serve_page.html
	@mkdir -p $(dir $@)
	$(Q)sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $< >$@
$(BUILD)/tools/serve_page.o: $(BUILD)/gen/serve_page.inc
$(BUILD)/tools/serve_page.o: CFLAGS += -I$(BUILD)/gen

# The suite: every unit test, the fuzz corpora replayed, then the
# end-to-end tests of the command.
test: $(BIN) $(TEST_BIN) $(FUZZ_REPLAY)
	@BUILD=$(BUILD) tests/run.sh $(TEST_BIN) $(FUZZ_REPLAY)

# libFuzzer builds (clang, ASan+UBSan): build-fuzz/fuzz_NAME for every
# fuzz/fuzz_NAME.c, the library instrumented too. fuzz/run.sh runs them
# (docs/fuzzing.md), e.g. fuzz/run.sh -t 600 tokenizer.
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 SANFLAGS="$(FUZZ_SAN)" $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)

$(BUILD)/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $(filter %.o,$^) $(LIB) $(LDLIBS) $(TOOL_LIBS) -o $@
# (as above: a tool's parser links its files)
$(BUILD)/fuzz_serve_request: $(BUILD)/tools/serve_request.o $(BUILD)/tools/serve_response.o

bench: $(BIN) $(BENCH_BIN)

clean:
	rm -rf build build-asan build-asan-clang build-scalar build-clang build-fuzz

format:
	clang-format -i include/*.h src/*.[ch] src/*/*.[ch] tools/*.[ch] tests/*.[ch] bench/*.[ch]

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TESTH_OBJ:.o=.d) $(TEST_BIN:=.d) $(BENCH_BIN:=.d) \
         $(FUZZ_SRC:%.c=$(BUILD)/%.d) $(BUILD)/fuzz/replay_main.d
.SECONDARY:
