/*
 * serve_page.c - the chat page `adamas serve` answers GET / with. Its
 * source is tools/serve_page.html (one file: no framework, no CDN, no
 * build step of its own); the Makefile turns it into a C string literal.
 */
#include "serve.h"

const char srv_page_html[] =
#include "serve_page.inc"
    ;
const size_t srv_page_len = sizeof(srv_page_html) - 1;
