/*
 * header_test.c - the public header compiles on its own, first, under
 * -std=c11 -pedantic, and gives a working program with nothing else.
 */
#include <ouro.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void public_header_is_self_sufficient(void **state)
{
    (void)state;
    assert_int_equal(ouro_init(NULL), OURO_OK);
    assert_int_equal(ouro_thread_attach(), OURO_OK);
    ouro_object *o = ouro_str_from("header");
    ouro_setref(&o, ouro_int_new(7));
    assert_int_equal(ouro_int_value(o), 7);
    ouro_xdecref(NULL);
    ouro_xincref(o);
    ouro_xdecref(o);
    ouro_decref(o);
    assert_true(sizeof(ouro_object) <= 24);
    ouro_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(public_header_is_self_sufficient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
