# Hark — one plain Makefile. `make help` lists the targets.
# Build dirs: build/release (default), build/san-<list> for SAN=..., build/fuzz.
.SUFFIXES:
.SECONDARY:
.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD    ?= build
SAN      ?=
PORTABLE ?= 0
CUDA     ?= 0
# CUDA=1: CUDA architectures to compile (tools/build-whisper.sh explains).
export CUDA_ARCHS
CC       ?= cc
comma    := ,

ifeq ($(SAN),)
O := $(BUILD)/release
SANFLAGS :=
else
O := $(BUILD)/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS     := libmicrohttpd json-c sqlite3 libsodium uuid sndfile soxr libcurl opus ogg
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wconversion -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Werror
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude \
             -include include/hark/banned.h $(PKG_CFLAGS) $(WHISPER_INC) -MMD -MP
LDLIBS    = $(WHISPER_LIBS) $(PKG_LIBS) -lpthread -lm

WHISPER_DIR := $(BUILD)/whisper
WHISPER_OUT := $(WHISPER_DIR)/p$(PORTABLE)-c$(CUDA)
WHISPER_INC := -isystem $(WHISPER_OUT)/include
# ggml's CPU backend is C++ (libstdc++); CUDA builds add the CUDA runtime,
# and NCCL when the toolkit has it (ggml's CMake then compiles it in).
CUDA_LIB64 := /usr/local/cuda/lib64
WHISPER_LIBS = $(WHISPER_OUT)/lib/libwhisper.a $(WHISPER_OUT)/lib/libggml.a \
               $(WHISPER_OUT)/lib/libggml-cpu.a $(WHISPER_OUT)/lib/libggml-base.a \
               $(if $(filter 1,$(CUDA)),$(WHISPER_OUT)/lib/libggml-cuda.a -L$(CUDA_LIB64) \
               -lcudart -lcublas -lcublasLt -lcuda \
               $(if $(wildcard $(CUDA_LIB64)/libnccl.so*),-lnccl)) -lstdc++

LIB_SRC  := $(sort $(wildcard src/core/*.c src/audio/*.c src/asr/*.c \
              src/store/*.c src/queue/*.c src/http/*.c src/bot/*.c src/ops/*.c))
BIN_SRC  := $(sort $(wildcard src/bin/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/obj/%.o)
BIN_OBJ  := $(BIN_SRC:%.c=$(O)/obj/%.o)
LIB      := $(O)/libhark.a
HARK     := $(O)/hark

# Random-weight models for tests and benchmarks (tools/gen-random-model.c;
# docs/models.md). Their vocabulary comes from whisper.cpp's test models in
# ../shared/data.
SHARED     ?= $(abspath ../shared)
GEN_MODEL  := $(O)/gen-random-model
TEST_MODEL := $(BUILD)/models/test.en.bin

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
HARNESS_OBJ := $(O)/obj/tests/unit/harness.o

.PHONY: all help deps whisper run test check bench fuzz clean unit integ \
        fuzz-build fuzz-replay tsan lint

all: whisper $(HARK) $(UNIT_BIN) $(TEST_MODEL)

help:
	@echo "make            build hark, its tests and whisper.cpp"
	@echo "make run        install what is missing, build, start hark serve"
	@echo "make test       unit + integration + ASan/UBSan suites + fuzz corpus replay"
	@echo "make check      test + TSan + cppcheck + clang-tidy + layer check + fuzz smoke"
	@echo "make bench      HTTP, transcription and meeting benchmarks, results in bench/RESULTS.md"
	@echo "make fuzz       each fuzz target for 60 s"
	@echo "options: SAN=address,undefined|thread  PORTABLE=1  CUDA=1 [CUDA_ARCHS=89-real]"

deps:
	@tools/bootstrap.sh

WHISPER_LIB := $(WHISPER_OUT)/lib/libwhisper.a
whisper: $(WHISPER_LIB)
$(WHISPER_LIB): tools/build-whisper.sh
	@tools/build-whisper.sh $(WHISPER_DIR) $(PORTABLE) $(CUDA)

$(O)/obj/%.o: %.c | $(WHISPER_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(HARK): $(BIN_OBJ) $(LIB) $(WHISPER_LIB)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(BIN_OBJ) $(LIB) $(LDLIBS)

$(O)/tests/%: $(O)/obj/tests/unit/%.o $(HARNESS_OBJ) $(LIB) $(WHISPER_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(filter-out $(WHISPER_LIB),$^) $(LDLIBS) -lcmocka

$(GEN_MODEL): tools/gen-random-model.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -o $@ $< -lm

# Built by the release tools whatever SAN is: it is a build tool, not a test.
$(TEST_MODEL): tools/gen-random-model.c
	@$(MAKE) --no-print-directory SAN= $(BUILD)/release/gen-random-model
	@mkdir -p $(@D)
	$(BUILD)/release/gen-random-model --preset test --seed 1 --ftype f16 \
	  --vocab-from $(SHARED)/data/for-tests-ggml-tiny.en.bin -o $@

run: deps all
	@tools/run.sh $(HARK)

unit: $(UNIT_BIN)
	@tools/run-tests.sh unit $(O) $(UNIT_BIN)

integ: $(HARK)
	@tools/run-tests.sh integ $(O)

test: deps
	@tools/test-all.sh

# --- fuzzing (clang + libFuzzer) -------------------------------------------
FUZZ_O     := $(BUILD)/fuzz
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/%)
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_O)/obj/%.o)
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -include include/hark/banned.h \
              $(PKG_CFLAGS) $(WHISPER_INC) -MMD -MP $(FUZZ_FLAGS)

$(FUZZ_O)/obj/%.o: %.c | $(WHISPER_LIB)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_O)/fuzz_%: $(FUZZ_O)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz-replay: fuzz-build
	@tools/run-tests.sh fuzz $(FUZZ_O) $(FUZZ_BIN)

fuzz: fuzz-build
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); n=$${n#fuzz_}; \
	  mkdir -p $(FUZZ_O)/found/$$n; \
	  $$f -max_total_time=$${FUZZ_SECONDS:-60} -artifact_prefix=$(FUZZ_O)/found/$$n/ \
	      $(FUZZ_O)/found/$$n tests/fuzz/corpus/$$n || exit 1; done

# --- static checks -----------------------------------------------------------
tsan:
	@$(MAKE) --no-print-directory SAN=thread all
	@tools/run-tests.sh unit $(BUILD)/san-thread $(UNIT_SRC:tests/unit/%.c=$(BUILD)/san-thread/tests/%)
	@TSAN_OPTIONS=halt_on_error=1 tools/run-tests.sh integ $(BUILD)/san-thread

lint:
	@tools/check-layers.sh
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --std=c11 -Iinclude --suppress=missingIncludeSystem src
	clang-tidy --quiet $(LIB_SRC) $(BIN_SRC) -- -std=c11 -D_GNU_SOURCE -Iinclude \
	  -include include/hark/banned.h $(PKG_CFLAGS) $(WHISPER_INC)

check: test tsan lint
	@FUZZ_SECONDS=10 $(MAKE) --no-print-directory fuzz

STREAM_BENCH := $(O)/stream_bench
$(STREAM_BENCH): $(O)/obj/bench/stream_bench.o $(LIB) $(WHISPER_LIB)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(filter-out $(WHISPER_LIB),$^) $(LDLIBS)

bench: deps all $(STREAM_BENCH)
	@bench/http.sh $(HARK)
	@bench/asr.sh $(HARK) $(STREAM_BENCH)
	@bench/meetings.sh $(HARK)

clean:
	rm -rf $(BUILD)/release $(BUILD)/san-* $(BUILD)/fuzz

-include $(LIB_OBJ:.o=.d) $(BIN_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d) \
         $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/obj/tests/fuzz/%.d)
-include $(UNIT_SRC:tests/unit/%.c=$(O)/obj/tests/unit/%.d) $(HARNESS_OBJ:.o=.d)
