/* Reading request JSON: typed lookups that tell "absent" from "wrong type". */
#ifndef MS_JSON_H
#define MS_JSON_H

#include <cjson/cJSON.h>

enum ms_json_kind {
    MS_JSON_ABSENT = 0, /* no such key */
    MS_JSON_NULL = 1,   /* present, null */
    MS_JSON_OK = 2,     /* present with the wanted type */
    MS_JSON_WRONG = -1, /* present with another type */
};

/* obj[key] as a string (valuestring into *out when MS_JSON_OK). */
enum ms_json_kind ms_json_str(const cJSON *obj, const char *key, const char **out);

/* obj[key] as an object (into *out when MS_JSON_OK). */
enum ms_json_kind ms_json_obj(const cJSON *obj, const char *key, const cJSON **out);

/* cJSON_Delete as an ms_arena_defer() cleanup. */
void ms_json_delete(void *json);

/* The item obj[key] (case-sensitive), NULL if absent. */
const cJSON *ms_json_item(const cJSON *obj, const char *key);

#endif
