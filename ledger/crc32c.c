/* CRC32C (Castagnoli), slicing-by-8. Neither libsodium, jansson nor
 * msgpack-c provides it. Reflected polynomial 0x82F63B78, initial value
 * and final xor 0xFFFFFFFF: the iSCSI/ext4/LevelDB CRC, whose check value
 * for "123456789" is 0xE3069283. Eight tables of 256 words let the loop
 * consume 8 bytes per step (several times faster than a byte at a time),
 * which matters because open and verify checksum every stored byte.
 *
 * On x86-64 with SSE4.2 the crc32 instruction computes the same CRC
 * several times faster still. It matters on the node's loop: every entry
 * read (GET /ledger, an APPEND read back to send) is checked, and in the
 * sanitized build the table lookups made this the hottest function of a
 * loaded node. */
#include "ledger/base.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC_HW 1
static bool use_hw;

/* On the inverted crc, as the table loop. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* x86 is little-endian, as the polynomial's bit order wants */
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static void build_tables(void)
{
#ifdef CRC_HW
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xffu];
}

uint32_t ledger_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    pthread_once(&table_once, build_tables);
    crc = ~crc;
#ifdef CRC_HW
    if (use_hw)
        return ~crc_hw(crc, p, len);
#endif
    /* Byte by byte until p is 8-aligned, then 8 at a time. Bytes are
     * assembled explicitly (little-endian), so no unaligned loads and no
     * endianness assumption. */
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xffu];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xffu] ^ table[6][(lo >> 8) & 0xffu] ^ table[5][(lo >> 16) & 0xffu] ^
              table[4][lo >> 24] ^ table[3][hi & 0xffu] ^ table[2][(hi >> 8) & 0xffu] ^
              table[1][(hi >> 16) & 0xffu] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xffu];
    return ~crc;
}
