/* fuzz_json_gate.c: libFuzzer target for common/json_gate.c. Arbitrary bytes must never crash the gate
 * (whatever their nesting); what it accepts must be valid UTF-8 without NUL, must parse with cJSON, and
 * cJSON's re-print of it must pass the gate again with the same verdict (no duplicate keys, same depth).
 * The first input byte picks a depth limit so shallow and deep limits are both explored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int depth = 1 + data[0] % 80;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    json_gate_err e;
    int rc = json_gate_check(text, len, depth, 0, &e);
    if (rc != 0) {
        if (e.code == JSON_GATE_OK || !e.msg[0] || e.offset > len) abort();
        return 0;
    }
    /* accepted: a string of the whole text would be valid UTF-8 without NUL */
    if (!json_gate_text_ok(text, len)) abort();
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j) abort();
    char *again = cJSON_PrintUnformatted(j);
    if (!again) abort();
    if (json_gate_check(again, strlen(again), depth, 0, &e) != 0) abort();
    cJSON_free(again);
    cJSON_Delete(j);
    return 0;
}
