/* Tests src/notify/template.c: what a message looks like on each platform. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "notify/template.h"

static cs_vw w;
static cs_val doc;

static int setup(void **state)
{
    (void)state;
    const char *json =
        "{\"monitor\":{\"name\":\"Big <transfers> & co.\"},\"network\":\"eth-main\","
        "\"transaction\":{\"hash\":\"0xaa01\",\"link\":\"https://x.io/tx/0xaa01\"},"
        "\"args\":{\"value\":"
        "\"115792089237316195423570985008687907853269984665640564039457584007913129639935\",\"n\":-"
        "5,"
        "\"list\":[1,2]},\"matchReasons\":[{\"type\":\"event\",\"params\":{\"to\":\"0xb0\"}}]}";
    cs_vw_init(&w, 0);
    char err[100];
    assert_int_equal(cs_json_parse_value(json, strlen(json), &w, err, sizeof err), 0);
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &doc, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cs_vw_free(&w);
    return 0;
}

static void render(const char *src, cs_escape esc, const char *want)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    char err[200];
    assert_int_equal(cs_template_render_src(src, &doc, esc, &b, err, sizeof err), 0);
    assert_string_equal(cs_buf_cstr(&b), want);
    cs_buf_free(&b);
}

static void test_paths_and_values(void **state)
{
    (void)state;
    render("{{monitor.name}} on {{ network }}: {{ transaction.link }}", CS_ESC_NONE,
           "Big <transfers> & co. on eth-main: https://x.io/tx/0xaa01");
    render("v={{ args.value }} n={{args.n}} l={{ args.list }} to={{ matchReasons[0].params.to }}",
           CS_ESC_NONE,
           "v=115792089237316195423570985008687907853269984665640564039457584007913129639935 n=-5 "
           "l=[1,2] to=0xb0");
    render("[{{ missing.path }}]", CS_ESC_NONE, "[]");
    render("no fields at all", CS_ESC_NONE, "no fields at all");
    render("a{{#transaction.link}}<{{transaction.link}}>{{/"
           "transaction.link}}b{{#nope}}X{{#args}}Y{{/args}}{{/nope}}c",
           CS_ESC_NONE, "a<https://x.io/tx/0xaa01>bc");
}

static void test_escaping(void **state)
{
    (void)state;
    render("*{{ monitor.name }}*", CS_ESC_TELEGRAM, "*Big <transfers\\> & co\\.*");
    render("{{ transaction.link }}", CS_ESC_TELEGRAM, "https://x\\.io/tx/0xaa01");
    render("*{{ monitor.name }}*", CS_ESC_SLACK, "*Big &lt;transfers&gt; &amp; co.*");
    render("<b>{{ monitor.name }}</b>", CS_ESC_HTML, "<b>Big &lt;transfers&gt; &amp; co.</b>");
    render("{{ monitor.name }}", CS_ESC_DISCORD, "Big <transfers\\> & co.");
    render("\"{{ monitor.name }}\"", CS_ESC_JSON, "\"Big <transfers> & co.\"");
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_escape_append(&b, "a_b*c\"\n", 7, CS_ESC_JSON);
    assert_string_equal(cs_buf_cstr(&b), "a_b*c\\\"\\n");
    b.len = 0;
    cs_escape_append(&b, "a_b*c", 5, CS_ESC_DISCORD);
    assert_string_equal(cs_buf_cstr(&b), "a\\_b\\*c");
    cs_buf_free(&b);
}

static void test_errors(void **state)
{
    (void)state;
    cs_template *t;
    char err[200];
    assert_int_equal(cs_template_compile("ok {{ monitor.name", &t, err, sizeof err), CS_EPARSE);
    assert_string_equal(err, "1:4: '{{' is not closed with '}}'");
    assert_int_equal(cs_template_compile("line\n{{ a b }}", &t, err, sizeof err), CS_EPARSE);
    assert_string_equal(err, "2:5: unexpected ' ' in a path (write paths like transaction.hash or "
                             "matchReasons[0].params.value)");
    assert_int_equal(cs_template_compile("{{ }}", &t, err, sizeof err), CS_EPARSE);
    assert_string_equal(err, "1:1: empty '{{ }}'");
    assert_int_equal(cs_template_compile("{{#a}}x{{/b}}", &t, err, sizeof err), CS_EPARSE);
    assert_string_equal(err, "1:8: '{{/b}}' does not close the open section");
    assert_int_equal(cs_template_compile("x\n {{#a}}x", &t, err, sizeof err), CS_EPARSE);
    assert_string_equal(err, "2:5: section 'a' is not closed with '{{/a}}'");
}

static void test_truncate(void **state)
{
    (void)state;
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_buf_append_str(&b, "héllo wörld");
    /* 8 bytes: 5 kept + "…" (3); the 5th byte would split "é"? no: h é(2) l l = 5 */
    assert_int_equal(cs_text_truncate(&b, 0, 8, CS_ESC_NONE), 1);
    assert_string_equal(cs_buf_cstr(&b), "héll…");
    b.len = 0;
    cs_buf_append_str(&b, "ab\\.cdef");
    assert_int_equal(cs_text_truncate(&b, 0, 6, CS_ESC_TELEGRAM), 1);
    assert_string_equal(cs_buf_cstr(&b), "ab…"); /* never a lone backslash */
    b.len = 0;
    cs_buf_append_str(&b, "x &amp; y");
    assert_int_equal(cs_text_truncate(&b, 0, 8, CS_ESC_HTML), 1);
    assert_string_equal(cs_buf_cstr(&b), "x …");
    b.len = 0;
    cs_buf_append_str(&b, "short");
    assert_int_equal(cs_text_truncate(&b, 0, 8, CS_ESC_NONE), 0);
    assert_string_equal(cs_buf_cstr(&b), "short");
    cs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_and_values),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_truncate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
