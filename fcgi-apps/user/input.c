/* Validation of the user service's request bodies, with the Node service's
 * messages. A password never goes into an error's "value". */
#include "fcgi-apps/user/user.h"

#include <stdio.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/http.h"
#include "lib/json.h"
#include "lib/password.h"
#include "lib/validate.h"
#include "lib/utf8.h"
#include "lib/banned.h"

#define MSG_EMAIL   "Must be a valid email"
#define MSG_PW_LEN  "Password must be at least 8 characters"
#define MSG_PW_MAX  "Password must be at most 72 bytes"
#define MSG_PW_RULE "Password must contain uppercase, lowercase, number and special character"
#define MSG_NAME    "Name must be between 2 and 255 characters"
#define MSG_PHONE   "Must be a valid phone number"

const char *const user_profile_fields[USER_PROFILE_NFIELDS] = {
    "name",
    "phone",
    "bio",
    "avatar_url",
    "date_of_birth",
    "gender",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "country",
    "postal_code",
    "notification_preferences",
};

static const char *const genders[] = { "male", "female", "other", "prefer_not_to_say", NULL };

/* Record a problem with field, echoing its value unless it is secret. */
static void bad(struct ms_req *req, const cJSON *body, const char *field, const char *msg,
                int secret)
{
    ms_http_verr(req, field, msg, secret ? NULL : cJSON_GetObjectItemCaseSensitive(body, field));
}

static void parse_email(struct ms_req *req, const cJSON *body, char *out, size_t cap)
{
    const char *s;

    if (ms_json_str(body, "email", &s) != MS_JSON_OK || strlen(s) > USER_EMAIL_MAX ||
        !ms_valid_email(s) || ms_normalize_email(s, out, cap) < 0)
        bad(req, body, "email", MSG_EMAIL, 0);
}

/* New-password rules on field; *out is the password when it is a string. */
static void parse_new_password(struct ms_req *req, const cJSON *body, const char *field,
                               const char *len_msg, const char **out)
{
    const char *s;

    if (ms_json_str(body, field, &s) != MS_JSON_OK)
        s = "";
    *out = s;
    if (ms_utf8_len(s) < 8)
        bad(req, body, field, len_msg, 1);
    if (ms_password_too_long(s))
        bad(req, body, field, MSG_PW_MAX, 1);
    if (!ms_password_policy_ok(s))
        bad(req, body, field, MSG_PW_RULE, 1);
}

/* A name: string, 2–255 characters after trimming. */
static int parse_name(struct ms_req *req, const cJSON *body, char *out, size_t cap)
{
    const char *s;
    size_t n;

    if (ms_json_str(body, "name", &s) != MS_JSON_OK || strlen(s) >= cap) {
        bad(req, body, "name", MSG_NAME, 0);
        return -1;
    }
    ms_trim(s, out, cap);
    n = ms_utf8_len(out);
    if (n < 2 || n > 255) {
        bad(req, body, "name", MSG_NAME, 0);
        return -1;
    }
    return 0;
}

int user_parse_register(struct ms_req *req, const cJSON *body, struct user_register_in *in)
{
    enum ms_json_kind k;

    memset(in, 0, sizeof *in);
    parse_email(req, body, in->email, sizeof in->email);
    parse_new_password(req, body, "password", MSG_PW_LEN, &in->password);
    parse_name(req, body, in->name, sizeof in->name);
    k = ms_json_str(body, "phone", &in->phone);
    if (k == MS_JSON_WRONG || (k == MS_JSON_OK && !ms_valid_phone(in->phone)))
        bad(req, body, "phone", MSG_PHONE, 0);
    return ms_http_verr_count(req) ? MS_EINVALID : MS_OK;
}

int user_parse_login(struct ms_req *req, const cJSON *body, struct user_login_in *in)
{
    memset(in, 0, sizeof *in);
    parse_email(req, body, in->email, sizeof in->email);
    if (ms_json_str(body, "password", &in->password) != MS_JSON_OK || !*in->password)
        bad(req, body, "password", "Password is required", 1);
    else if (ms_password_too_long(in->password))
        /* SPEC §3: bcryptjs took any length and hashed the first 72 bytes, so a
         * Node-era user may have chosen a longer password; check it as bcryptjs
         * did. Register and password change still refuse one (never cut). */
        in->password = ms_arena_strndup(req->arena, in->password, MS_PASSWORD_MAX_BYTES);
    return ms_http_verr_count(req) ? MS_EINVALID : MS_OK;
}

/* Maximum length in characters of each profile text field (column sizes). */
static size_t profile_max(const char *field)
{
    static const struct {
        const char *name;
        size_t max;
    } limits[] = { { "bio", 500 },           { "avatar_url", 500 }, { "address_line1", 255 },
                   { "address_line2", 255 }, { "city", 100 },       { "state", 100 },
                   { "country", 100 },       { "postal_code", 20 } };

    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (strcmp(limits[i].name, field) == 0)
            return limits[i].max;
    return 0;
}

static const char *length_msg(const char *field)
{
    if (strcmp(field, "bio") == 0)
        return "Bio must be less than 500 characters";
    if (strcmp(field, "avatar_url") == 0)
        return "Avatar URL must be at most 500 characters";
    if (strcmp(field, "postal_code") == 0)
        return "Postal code must be at most 20 characters";
    if (strncmp(field, "address_line", 12) == 0)
        return "Address must be at most 255 characters";
    return "Must be at most 100 characters";
}

/* notification_preferences: an object of booleans under the known keys. */
static void parse_prefs(struct ms_req *req, const cJSON *body, struct user_profile_in *in, int i)
{
    static const char *const keys[] = { "email", "sms", "push", "marketing", NULL };
    const cJSON *obj, *it;
    char *text;

    if (ms_json_obj(body, "notification_preferences", &obj) != MS_JSON_OK)
        goto bad;
    cJSON_ArrayForEach(it, obj)
    {
        if (!it->string || !ms_valid_enum(it->string, keys) || !cJSON_IsBool(it))
            goto bad;
    }
    text = cJSON_PrintUnformatted(obj);
    if (!text)
        goto bad;
    in->prefs_json = ms_arena_strdup(req->arena, text);
    cJSON_free(text);
    in->values[i] = in->prefs_json;
    return;
bad:
    bad(req, body, "notification_preferences",
        "Notification preferences must be an object of booleans (email, sms, push, marketing)", 0);
}

/* One optional profile text field (not name or preferences). */
static void parse_profile_text(struct ms_req *req, const cJSON *body, struct user_profile_in *in,
                               int i)
{
    const char *field = user_profile_fields[i], *s;
    enum ms_json_kind k = ms_json_str(body, field, &s);

    if (k == MS_JSON_NULL)
        return; /* present and null: clears the field */
    if (k == MS_JSON_WRONG) {
        bad(req, body, field, "Must be a string", 0);
        return;
    }
    in->values[i] = s;
    if (strcmp(field, "phone") == 0) {
        if (!ms_valid_phone(s))
            bad(req, body, field, MSG_PHONE, 0);
    } else if (strcmp(field, "gender") == 0) {
        if (!ms_valid_enum(s, genders))
            bad(req, body, field, "Gender must be one of male, female, other, prefer_not_to_say",
                0);
    } else if (strcmp(field, "date_of_birth") == 0) {
        if (!ms_valid_date(s))
            bad(req, body, field, "Date of birth must be a valid date (YYYY-MM-DD)", 0);
    } else if (!ms_utf8_valid(s, strlen(s)) || ms_utf8_len(s) > profile_max(field)) {
        bad(req, body, field, length_msg(field), 0);
    }
}

int user_parse_profile(struct ms_req *req, const cJSON *body, struct user_profile_in *in)
{
    memset(in, 0, sizeof *in);
    for (int i = 0; i < USER_PROFILE_NFIELDS; i++) {
        const char *field = user_profile_fields[i];

        if (!cJSON_GetObjectItemCaseSensitive(body, field))
            continue;
        in->present[i] = 1;
        if (i == 0) {
            if (parse_name(req, body, in->name, sizeof in->name) == 0)
                in->values[i] = in->name;
        } else if (strcmp(field, "notification_preferences") == 0) {
            parse_prefs(req, body, in, i);
        } else {
            parse_profile_text(req, body, in, i);
        }
    }
    return ms_http_verr_count(req) ? MS_EINVALID : MS_OK;
}

int user_parse_password(struct ms_req *req, const cJSON *body, struct user_password_in *in)
{
    memset(in, 0, sizeof *in);
    if (ms_json_str(body, "currentPassword", &in->current) != MS_JSON_OK || !*in->current)
        bad(req, body, "currentPassword", "Current password is required", 1);
    parse_new_password(req, body, "newPassword", "New password must be at least 8 characters",
                       &in->next);
    return ms_http_verr_count(req) ? MS_EINVALID : MS_OK;
}
