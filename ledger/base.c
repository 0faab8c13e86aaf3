/* Error strings, hex and ids: see base.h. */
#include "ledger/base.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

const char *ledger_strerror(enum ledger_error err)
{
    switch (err) {
    case LEDGER_OK:
        return "ok";
    case LEDGER_EMALFORMED:
        return "malformed";
    case LEDGER_ETOOBIG:
        return "too big";
    case LEDGER_EINVAL:
        return "invalid value";
    case LEDGER_ECHAIN:
        return "does not extend the chain";
    case LEDGER_ERANGE:
        return "index out of range";
    case LEDGER_ECONFLICT:
        return "conflicts with the stored ledger";
    case LEDGER_EEXIST:
        return "already stored";
    case LEDGER_EBADSIG:
        return "bad signature";
    case LEDGER_EKEY:
        return "signed by a key that is not pinned";
    case LEDGER_EEQUIVOCATION:
        return "equivocation";
    case LEDGER_ESTALE:
        return "stale";
    case LEDGER_ECORRUPT:
        return "corrupt";
    case LEDGER_EIO:
        return "i/o error";
    case LEDGER_ENOMEM:
        return "out of memory";
    case LEDGER_EFATAL:
        return "fatal: sync failed, the process must abort";
    }
    return "unknown error";
}

const char *ledger_syserror(int errnum, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(errnum));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

void ledger_hex(const uint8_t *bytes, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, bytes, n);
}

int ledger_unhex(const char *hex, uint8_t *out, size_t n)
{
    size_t got = 0;
    const char *end = NULL;
    if (hex == NULL || strlen(hex) != 2 * n)
        return -1;
    if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) != 0 || got != n || *end != '\0')
        return -1;
    return 0;
}

static bool id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

bool ledger_valid_id(const char *s, size_t n)
{
    if (s == NULL || n == 0 || n >= LEDGER_ID_MAX || !id_char(s[0]) || s[0] == '.' || s[0] == '_' ||
        s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}
