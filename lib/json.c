/* Typed lookups in request JSON. */
#include "lib/json.h"

#include "lib/banned.h"

const cJSON *ms_json_item(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

enum ms_json_kind ms_json_str(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *it = ms_json_item(obj, key);

    *out = NULL;
    if (!it)
        return MS_JSON_ABSENT;
    if (cJSON_IsNull(it))
        return MS_JSON_NULL;
    if (!cJSON_IsString(it) || !it->valuestring)
        return MS_JSON_WRONG;
    *out = it->valuestring;
    return MS_JSON_OK;
}

enum ms_json_kind ms_json_obj(const cJSON *obj, const char *key, const cJSON **out)
{
    const cJSON *it = ms_json_item(obj, key);

    *out = NULL;
    if (!it)
        return MS_JSON_ABSENT;
    if (cJSON_IsNull(it))
        return MS_JSON_NULL;
    if (!cJSON_IsObject(it))
        return MS_JSON_WRONG;
    *out = it;
    return MS_JSON_OK;
}

void ms_json_delete(void *json)
{
    cJSON_Delete(json);
}
