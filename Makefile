# r1 — build, test, bench.  See README.md.
#   make            build build/r1 (and build/libr1.a)
#   make test       unit tests + integration tests (oracles: numpy, llama.cpp, HF tokenizers),
#                   then the unit tests again under ASan + UBSan
#   make asan       unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make debug      -O0 build in build-debug/
#   make run        run the built-in demo model
#   make bench      r1 vs llama.cpp benchmark table
#   make train      reproduce the built-in demo model (models/r1-demo.gguf) from scratch
# Variables: BUILD=dir (out-of-tree build folder), CC=gcc|clang, SAN=1 (sanitizers), DEBUG=1.

BUILD   ?= build
CC      ?= cc
ARCH    := $(shell $(CC) -dumpmachine | cut -d- -f1)
OPT     ?= -O2
ifeq ($(DEBUG),1)
OPT     := -O0
endif
CFLAGS  ?=
CFLAGS  += -std=c11 -Wall -Wextra -Werror -g $(OPT) -D_GNU_SOURCE -Iinclude -Isrc -pthread
LDLIBS  += -lpcre2-8 -lutf8proc -lcjson -ledit -lm -pthread
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# SIMD translation units are compiled for their ISA and only called after a cpuid check.
SIMD_X86_AVX2   := -mavx2 -mfma -mf16c
SIMD_X86_AVX512 := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16
LIB_SRC := $(wildcard src/*.c src/train/*.c)
ifeq ($(ARCH),x86_64)
LIB_SRC += $(wildcard src/simd/*_avx2.c src/simd/*_avx512.c src/simd/*_amx.c)
endif
ifeq ($(ARCH),aarch64)
LIB_SRC += $(wildcard src/simd/*_neon.c)
endif
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)

.PHONY: all lib unit test asan debug run bench train clean tools
all: $(BUILD)/r1 $(TOOL_BIN)
lib: $(BUILD)/libr1.a
tools: $(TOOL_BIN)

$(BUILD)/%_avx2.o: CFLAGS += $(SIMD_X86_AVX2)
$(BUILD)/%_avx512.o: CFLAGS += $(SIMD_X86_AVX512)
$(BUILD)/%_amx.o: CFLAGS += $(SIMD_X86_AVX512) -mamx-tile -mamx-int8
$(BUILD)/%_neon.o: CFLAGS += -march=armv8.2-a+dotprod+fp16

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*.h src/*/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libr1.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/r1: $(CLI_OBJ) $(BUILD)/libr1.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libr1.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libr1.a $(LDLIBS)

$(BUILD)/tools/%: tools/%.c $(BUILD)/libr1.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libr1.a $(LDLIBS)

unit: $(UNIT_BIN)
	@tests/run_unit.sh $(BUILD)

test: all $(UNIT_BIN)
	@tests/run_all.sh $(BUILD)
	@$(MAKE) --no-print-directory asan

asan:
	$(MAKE) BUILD=build-asan SAN=1 unit

debug:
	$(MAKE) BUILD=build-debug DEBUG=1 all

run: all
	$(BUILD)/r1 run -p "What is 347+589?"

bench: all
	@bench/run.sh $(BUILD)

train: all
	@scripts/train.sh $(BUILD)

clean:
	rm -rf build build-asan build-debug build-*
