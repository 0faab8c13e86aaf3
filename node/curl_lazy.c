/* libcurl for chimerad, loaded when the first HTTP health check asks
 * (pipeline/exec/health.c: health_curl_load, on a thread of libuv's pool),
 * not when the program starts. libcurl brings some thirty libraries (TLS,
 * Kerberos, LDAP, SSH, IDN, ...) whose loading and constructors cost an
 * idle node about 8 MiB of resident memory and, on a busy machine, 100 ms
 * or more of start-up: a node that runs nothing with an HTTP check pays
 * neither. chimerad is linked without libcurl (--as-needed drops it, since
 * these definitions satisfy every curl_* reference), and each curl_*
 * function health.c calls is defined here, forwarding to libcurl's own,
 * found with dlsym once the library is loaded. Nothing calls them before
 * health_curl_load succeeded (health.c waits for it). */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

/* The functions health.c calls: one row each. */
#define CURL_FUNCTIONS(X)                                                                          \
    X(global_init, CURLcode, (long flags))                                                         \
    X(global_cleanup, void, (void))                                                                \
    X(easy_init, CURL *, (void))                                                                   \
    X(easy_cleanup, void, (CURL * curl))                                                           \
    X(easy_setopt, CURLcode, (CURL * curl, CURLoption option, ...))                                \
    X(easy_getinfo, CURLcode, (CURL * curl, CURLINFO info, ...))                                   \
    X(easy_strerror, const char *, (CURLcode code))                                                \
    X(multi_init, CURLM *, (void))                                                                 \
    X(multi_cleanup, CURLMcode, (CURLM * multi))                                                   \
    X(multi_setopt, CURLMcode, (CURLM * multi, CURLMoption option, ...))                           \
    X(multi_add_handle, CURLMcode, (CURLM * multi, CURL * easy))                                   \
    X(multi_remove_handle, CURLMcode, (CURLM * multi, CURL * easy))                                \
    X(multi_socket_action, CURLMcode, (CURLM * multi, curl_socket_t s, int ev, int *running))      \
    X(multi_assign, CURLMcode, (CURLM * multi, curl_socket_t s, void *p))                          \
    X(multi_info_read, CURLMsg *, (CURLM * multi, int *queued))

#define CURL_POINTER(name, ret, args) ret(*name) args;
static struct {
    CURL_FUNCTIONS(CURL_POINTER)
} real;

#define CURL_RESOLVE(name, ret, args)                                                              \
    if (!(*(void **)&real.name = dlsym(lib, "curl_" #name))) {                                     \
        snprintf(err, len, "libcurl.so.4 lacks curl_" #name);                                      \
        return -1;                                                                                 \
    }

int health_curl_load(char *err, size_t len);
int health_curl_load(char *err, size_t len)
{
    /* Kept until exit: libcurl is not made to be unloaded. */
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, len, "cannot load libcurl for HTTP health checks: %s", dlerror());
        return -1;
    }
    CURL_FUNCTIONS(CURL_RESOLVE)
    return 0;
}

CURLcode(curl_global_init)(long flags)
{
    return real.global_init(flags);
}

void(curl_global_cleanup)(void)
{
    real.global_cleanup();
}

CURL *(curl_easy_init)(void)
{
    return real.easy_init();
}

void(curl_easy_cleanup)(CURL *curl)
{
    real.easy_cleanup(curl);
}

const char *(curl_easy_strerror)(CURLcode code)
{
    return real.easy_strerror(code);
}

CURLM *(curl_multi_init)(void)
{
    return real.multi_init();
}

CURLMcode(curl_multi_cleanup)(CURLM *multi)
{
    return real.multi_cleanup(multi);
}

CURLMcode(curl_multi_add_handle)(CURLM *multi, CURL *easy)
{
    return real.multi_add_handle(multi, easy);
}

CURLMcode(curl_multi_remove_handle)(CURLM *multi, CURL *easy)
{
    return real.multi_remove_handle(multi, easy);
}

CURLMcode(curl_multi_socket_action)(CURLM *multi, curl_socket_t s, int ev, int *running)
{
    return real.multi_socket_action(multi, s, ev, running);
}

CURLMcode(curl_multi_assign)(CURLM *multi, curl_socket_t s, void *p)
{
    return real.multi_assign(multi, s, p);
}

CURLMsg *(curl_multi_info_read)(CURLM *multi, int *queued)
{
    return real.multi_info_read(multi, queued);
}

/* The variadic ones take one argument whose type the option's number says
 * (curl.h: CURLOPTTYPE_*), as libcurl itself reads it. */
#define FORWARD_OPTION(fn, handle, option, ap)                                                     \
    ((option) < CURLOPTTYPE_OBJECTPOINT     ? fn(handle, option, va_arg(ap, long))                 \
     : (option) < CURLOPTTYPE_FUNCTIONPOINT ? fn(handle, option, va_arg(ap, void *))               \
     : (option) < CURLOPTTYPE_OFF_T         ? fn(handle, option, va_arg(ap, void (*)(void)))       \
     : (option) < CURLOPTTYPE_BLOB          ? fn(handle, option, va_arg(ap, curl_off_t))           \
                                            : fn(handle, option, va_arg(ap, void *)))

CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLcode rc = FORWARD_OPTION(real.easy_setopt, curl, option, ap);
    va_end(ap);
    return rc;
}

CURLMcode(curl_multi_setopt)(CURLM *multi, CURLMoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLMcode rc = FORWARD_OPTION(real.multi_setopt, multi, option, ap);
    va_end(ap);
    return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    va_start(ap, info);
    CURLcode rc = real.easy_getinfo(curl, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}
