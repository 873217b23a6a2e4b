/* libFuzzer target: the policy loader on arbitrary bytes, then a few
** decisions against whatever loaded (make fuzz). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../security/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static policy_url u;
  policy_set *set = policy_set_new();
  policy_diags d;
  memset(&d, 0, sizeof d);
  if (policy_load_buffer(set, "fuzz.yaml", (const char *)data, size, &d) == 0) {
    policy_decision dec;
    policy_ip ip;
    policy_ip_parse("10.0.0.1", &ip);
    policy_kv meta[1] = {{"x", {.type = POLICY_V_STR, .s = "v"}}};
    policy_check(set, &set->actor, "websocket.connect.url",
                 "wss://a.example.com/ws/x", meta, 1, NULL, &u, &dec);
    policy_check(set, &set->actor, "websocket.connect.url",
                 "ws://127.0.0.1:9000/", meta, 1, &ip, &u, &dec);
    policy_check(set, &set->actor, "fs.read", "/tmp/x", meta, 1, NULL, &u,
                 &dec);
    (void)policy_decision_policy(&dec);
  }
  char buf[1024];
  policy_diag_format(&d.error, buf, sizeof buf);
  policy_diags_free(&d);
  policy_set_free(set);
  return 0;
}
