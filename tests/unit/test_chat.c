/* test_chat.c — reasoning splitter at every byte boundary, template rendering and
 * recognition, message JSON. (Byte-exact comparison with the real Jinja templates is
 * tests/integration/chat_template.sh.) */
#include "test.h"
#include "chat.h"
#include "common.h"

typedef struct { char r[512], a[512]; size_t nr, na; int opens, closes; } sink;
static void emit(void *u, int kind, const char *s, size_t n) {
    sink *k = u;
    if (kind == CHAT_TAG_OPEN) { k->opens++; return; }
    if (kind == CHAT_TAG_CLOSE) { k->closes++; return; }
    if (kind == CHAT_REASONING) { memcpy(k->r + k->nr, s, n); k->nr += n; k->r[k->nr] = 0; }
    else { memcpy(k->a + k->na, s, n); k->na += n; k->a[k->na] = 0; }
}

/* Splits text at cut points a <= b (three pushes) and checks the result. */
static int run_split(const char *text, bool prefilled, size_t a, size_t b, const char *want_r, const char *want_a, int opens, int closes) {
    sink k = {0};
    chat_splitter sp;
    chat_split_init(&sp, prefilled);
    size_t n = strlen(text);
    chat_split_push(&sp, text, a, emit, &k);
    chat_split_push(&sp, text + a, b - a, emit, &k);
    chat_split_push(&sp, text + b, n - b, emit, &k);
    chat_split_flush(&sp, emit, &k);
    int ok = !strcmp(k.r, want_r) && !strcmp(k.a, want_a) && k.opens == opens && k.closes == closes;
    if (!ok) fprintf(stderr, "  cut %zu,%zu of [%s]: r=[%s] a=[%s] opens %d closes %d\n", a, b, text, k.r, k.a, k.opens, k.closes);
    return ok;
}

static void check_all_cuts(const char *text, bool prefilled, const char *r, const char *a, int opens, int closes) {
    size_t n = strlen(text);
    int bad = 0;
    for (size_t i = 0; i <= n && bad < 3; i++)
        for (size_t j = i; j <= n && bad < 3; j++)
            if (!run_split(text, prefilled, i, j, r, a, opens, closes)) bad++;
    CHECK(bad == 0, "%s", text);
}

static void test_split_every_boundary(void) {
    check_all_cuts("<think>\nLet me add.</think>\n\nThe answer is 936.", false, "\nLet me add.", "\n\nThe answer is 936.", 1, 1);
    check_all_cuts("\nreasoning «ü»</think>\n\n**936**", true, "\nreasoning «ü»", "\n\n**936**", 0, 1);
    /* false starts: partial tags that are text */
    check_all_cuts("a <thin <b> </thi</think>x <think> y", true, "a <thin <b> </thi", "x <think> y", 0, 1);
    check_all_cuts("<<think>>r<</think>>", false, ">r<", "<>", 1, 1);  /* second '<' starts the tag */
    check_all_cuts("no tags at all < > </", false, "", "no tags at all < > </", 0, 0);
    check_all_cuts("unterminated <thi", true, "unterminated <thi", "", 0, 0);
    check_all_cuts("", true, "", "", 0, 0);
}

static void test_split_bytewise(void) {
    /* one byte per push, as a byte-level tokenizer would stream */
    const char *t = "<think>\nx</think>\n\ny";
    sink k = {0};
    chat_splitter sp;
    chat_split_init(&sp, false);
    for (size_t i = 0; t[i]; i++) chat_split_push(&sp, t + i, 1, emit, &k);
    chat_split_flush(&sp, emit, &k);
    CHECK(!strcmp(k.r, "\nx") && !strcmp(k.a, "\n\ny"));
}

static chat_msg M(const char *r, const char *c) { chat_msg m = {(char *)r, (char *)c}; return m; }

static void test_render(void) {
    chat_msg conv[] = {M("system", "Be brief."), M("user", "2+2?"), M("assistant", "<think>\nfour\n</think>\n\n4"), M("user", "and 3+3?")};
    chat_prompt p;
    REQUIRE(chat_render(chat_template_by_name("r1"), conv, 4, true, false, &p, NULL) == R1_OK);
    CHECK(!strcmp(p.text, "<｜begin▁of▁sentence｜>Be brief.<｜User｜>2+2?<｜Assistant｜>\n\n4<｜end▁of▁sentence｜><｜User｜>and 3+3?<｜Assistant｜><think>\n"), "%s", p.text);
    /* segments: content flagged, tags not; concatenation == text */
    size_t tot = 0;
    for (int i = 0; i < p.n_segs; i++) {
        tot += p.segs[i].len;
        if (!strncmp(p.text + p.segs[i].off, "2+2?", 4)) CHECK(p.segs[i].content);
        if (!strncmp(p.text + p.segs[i].off, "<｜User｜>", 4)) CHECK(!p.segs[i].content);
    }
    CHECK(tot == p.len);
    chat_prompt_free(&p);
    REQUIRE(chat_render(chat_template_by_name("r1-0528"), conv, 4, false, false, &p, NULL) == R1_OK);
    CHECK(!strcmp(p.text, "<｜begin▁of▁sentence｜>Be brief.<｜User｜>2+2?<｜Assistant｜>\n\n4<｜end▁of▁sentence｜><｜User｜>and 3+3?<｜Assistant｜>"), "%s", p.text);
    chat_prompt_free(&p);
    REQUIRE(chat_render(chat_template_by_name("v3"), conv + 1, 1, true, true, &p, NULL) == R1_OK);
    CHECK(!strcmp(p.text, "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n\n</think>\n\n"), "%s", p.text);
    chat_prompt_free(&p);
    chat_msg bad[] = {M("tool", "x")};
    r1_error e = {0};
    CHECK(chat_render(chat_template_by_name("r1"), bad, 1, true, false, &p, &e) == R1_ERR_INVALID_ARG && strstr(e.msg, "tool"));
}

static void test_detect(void) {
    bool known;
    CHECK(!strcmp(chat_template_detect(NULL, &known)->name, "r1") && !known);
    CHECK(!strcmp(chat_template_detect("{{ messages }}", &known)->name, "r1") && !known);
    const char *distill = "{{'<｜User｜>' + x}}{% set content = content.split('</think>')[-1] %}{{'<｜Assistant｜><think>\\n'}}";
    CHECK(!strcmp(chat_template_detect(distill, &known)->name, "r1-distill") && known);
    const char *v3 = "{{'<｜User｜>'}} is_first_sp {{'<｜Assistant｜>'}}";
    CHECK(!strcmp(chat_template_detect(v3, &known)->name, "v3") && known);
    CHECK(chat_template_by_name("r1-0528-qwen3") == chat_template_by_name("r1-0528"));
    CHECK(chat_template_by_name("nope") == NULL);
}

/* The real template strings in tests/chat/ (run from the repository root) are recognised. */
static void test_detect_real(void) {
    const char *files[][2] = {{"tests/chat/deepseek-v3.jinja", "v3"}, {"tests/chat/deepseek-r1-distill.jinja", "r1-distill"},
                              {"tests/chat/deepseek-r1-0528.jinja", "r1-0528"}};
    for (size_t i = 0; i < R1_ARRAY_LEN(files); i++) {
        FILE *f = fopen(files[i][0], "rb");
        REQUIRE(f, "%s missing (run from the repository root)", files[i][0]);
        static char buf[16384];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        bool known;
        const chat_template *t = chat_template_detect(buf, &known);
        CHECK(known && !strcmp(t->name, files[i][1]), "%s -> %s", files[i][0], t->name);
    }
}

static void test_messages_json(void) {
    chat_msg *m; int n; r1_error e = {0};
    REQUIRE(chat_parse_messages("[{\"role\":\"user\",\"content\":\"hi \\u00e9\"},{\"role\":\"assistant\",\"content\":null}]", &m, &n, &e) == R1_OK);
    CHECK(n == 2 && !strcmp(m[0].content, "hi é") && !strcmp(m[1].content, ""));
    char *s = chat_messages_json(m, n);
    chat_msg *m2 = NULL; int n2 = 0;
    CHECK(s && chat_parse_messages(s, &m2, &n2, NULL) == R1_OK && n2 == 2 && !strcmp(m2[0].content, "hi é"));
    chat_msgs_free(m2, n2); free(s); chat_msgs_free(m, n);
    CHECK(chat_parse_messages("{\"role\":1}", &m, &n, &e) == R1_ERR_FORMAT);
    CHECK(chat_parse_messages("[{\"role\":1}]", &m, &n, &e) == R1_ERR_FORMAT && strstr(e.msg, "messages[0]"));
    CHECK(chat_parse_messages("[1,", &m, &n, &e) == R1_ERR_FORMAT);
}

int main(void) {
    RUN(test_split_every_boundary);
    RUN(test_split_bytewise);
    RUN(test_render);
    RUN(test_detect);
    RUN(test_detect_real);
    RUN(test_messages_json);
    return TEST_SUMMARY();
}
