// FUZZ_EXTRA: services/api/ds_validate.c services/api/ds_secrets.c
/* fuzz_ds_validate.c: libFuzzer target for the datasource field rules and secret handling
 * (services/api/ds_validate.c, ds_secrets.c). The input is parsed as JSON and fed to:
 *   - ds_validate_info() (whole DatasourceInfo) and ds_validate_content() for every one of the 35 types;
 *   - on a valid document: ds_secrets_seal() without a stored row (create), then again over a masked copy
 *     with the sealed content as the stored row (update with "******"), checking the invariants:
 *     every secret sealed after a successful seal, the masked copy holds no sealed text, resealing a
 *     masked copy gives back exactly the stored sealed values, and normalisation is idempotent
 *     (validating the normalised document again succeeds and changes nothing).
 * Any crash, sanitizer report or broken invariant (abort) is a finding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ds_secrets.h"
#include "ds_validate.h"

static int initialised;

static void init_once(void)
{
    if (initialised) return;
    char err[128];
    if (crypto_init("6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f", NULL, 0, err, sizeof err) != 0)
        abort();
    initialised = 1;
}

static void check_masked(const cJSON *content)
{
    /* after masking, no sealed value may remain anywhere a secret lives */
    char *s = cJSON_PrintUnformatted(content);
    if (!s) return;
    const cJSON *paths = ds_secrets_sealed_paths(content);
    if (paths && cJSON_GetArraySize(paths) != 0) abort();
    cJSON_Delete((cJSON *)paths);
    cJSON_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size > 1 << 16) return 0;
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (!doc) return 0;
    ds_verr e;
    memset(&e, 0, sizeof e);

    /* content rules of every type over the same object (a copy each: normalisation mutates) */
    const cJSON *maybe_content = cJSON_GetObjectItemCaseSensitive(doc, "content");
    for (int i = 0; i < DS_TYPES_COUNT; i++) {
        cJSON *c = cJSON_Duplicate(maybe_content ? maybe_content : doc, 1);
        if (!c) continue;
        if (ds_validate_content(ds_type_at(i), c, &e) != 0 && e.field[0] == '\0' && cJSON_IsObject(c)) abort();
        cJSON_Delete(c);
    }

    if (ds_validate_info(doc, &e) == 0) {
        /* idempotent normalisation */
        char *once = cJSON_PrintUnformatted(doc);
        if (ds_validate_info(doc, &e) != 0) abort();
        char *twice = cJSON_PrintUnformatted(doc);
        if (once && twice && strcmp(once, twice) != 0) abort();
        cJSON_free(once);
        cJSON_free(twice);

        cJSON *content = cJSON_GetObjectItemCaseSensitive(doc, "content");
        cJSON *sealed = cJSON_Duplicate(content, 1);
        if (sealed && ds_secrets_seal(sealed, NULL, &e, NULL) == 0) {
            if (!ds_secrets_all_sealed(sealed)) abort();
            /* an update sending everything back masked keeps exactly the stored values */
            cJSON *masked = cJSON_Duplicate(sealed, 1);
            if (masked && ds_secrets_mask(masked) == 0) {
                check_masked(masked);
                cJSON *again = cJSON_Duplicate(masked, 1);
                if (again && ds_secrets_seal(again, sealed, &e, NULL) != 0) abort();
                if (again && !cJSON_Compare(again, sealed, 1)) abort();
                cJSON_Delete(again);
            }
            cJSON_Delete(masked);
        }
        cJSON_Delete(sealed);
    }
    cJSON_Delete(doc);
    return 0;
}
