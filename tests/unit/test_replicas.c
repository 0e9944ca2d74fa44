/* Unit tests for the agent's engine command lines (src/agent/replicas.c): the built-in engine on
 * cpu and sim devices, engine templates with each vendor's device-visibility variable. */
#include <criterion/criterion.h>
#include <string.h>

#include "agent/replicas.h"

static json_t *spec(const char *kind, const char *engine) {
  return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:I,s:I},s:[i,i]}", "id", "r1", "deployment", "chat", "model", "name",
                   "meta-llama/Llama-3-8B", "kind", kind, "engine", engine, "params", (json_int_t)8000000000LL,
                   "weights_bytes", (json_int_t)16000000000LL, "devices", 2, 3);
}

static void joined(char **argv, char *out, size_t cap) {
  out[0] = 0;
  for (int i = 0; argv[i]; i++) {
    strncat(out, argv[i], cap - strlen(out) - 2);
    if (argv[i + 1]) strncat(out, " ", cap - strlen(out) - 1);
  }
}

Test(replicas, vllm_on_nvidia_sets_cuda_visible_devices) {
  json_t *s = spec("external", "vllm");
  sc_device d = {.driver = "nvml", .vendor = "nvidia", .chip = "H100-SXM-80GB"};
  int vidx[2] = {2, 3};
  char buf[4096], env[256], why[256], line[4096], *argv[64];
  cr_assert_eq(sc_replicas_command(s, &d, vidx, 2, "/bin/suanchi", NULL, 4321, "/tmp/p", buf, sizeof buf, argv, 64, env,
                                   sizeof env, why, sizeof why), 0, "%s", why);
  joined(argv, line, sizeof line);
  cr_assert_str_eq(line, "vllm serve meta-llama/Llama-3-8B --host 0.0.0.0 --port 4321 --served-model-name chat");
  cr_assert_str_eq(env, "CUDA_VISIBLE_DEVICES=2,3");
  json_decref(s);
}

Test(replicas, ascend_and_enflame_visibility) {
  json_t *s = spec("external", "mindie");
  sc_device d = {.driver = "dcmi", .vendor = "huawei", .chip = "Ascend-910B-64GB"};
  int vidx[2] = {0, 1};
  char buf[4096], env[256], why[256], *argv[64];
  cr_assert_eq(sc_replicas_command(s, &d, vidx, 2, "/bin/suanchi", NULL, 9000, "/tmp/p", buf, sizeof buf, argv, 64, env,
                                   sizeof env, why, sizeof why), 0, "%s", why);
  cr_assert_str_eq(env, "ASCEND_RT_VISIBLE_DEVICES=0,1");
  sc_device e = {.driver = "efml", .vendor = "enflame", .chip = "Enflame-i20-16GB"};
  json_decref(s);
  s = spec("external", "vllm");
  cr_assert_eq(sc_replicas_command(s, &e, vidx, 1, "/bin/suanchi", NULL, 9000, "/tmp/p", buf, sizeof buf, argv, 64, env,
                                   sizeof env, why, sizeof why), 0, "%s", why);
  cr_assert_str_eq(env, "TOPS_VISIBLE_DEVICES=0");
  json_decref(s);
}

Test(replicas, builtin_engine_on_cpu_and_sim) {
  json_t *s = spec("gguf", "");
  sc_device cpu = {.driver = "cpu", .vendor = "cpu", .chip = "CPU-x86_64", .compute_units = 2};
  int vidx[1] = {0};
  char buf[4096], env[256], why[256], line[4096], *argv[64];
  cr_assert_eq(sc_replicas_command(s, &cpu, vidx, 1, "/bin/suanchi", "/m/x.gguf", 0, "/tmp/p", buf, sizeof buf, argv, 64,
                                   env, sizeof env, why, sizeof why), 0, "%s", why);
  joined(argv, line, sizeof line);
  cr_assert_str_eq(line, "/bin/suanchi engine --model /m/x.gguf --threads 2 --listen 127.0.0.1:0 --port-file /tmp/p "
                         "--model-name chat");
  cr_assert_str_eq(env, "");
  sc_device sim = {.driver = "sim", .vendor = "nvidia", .chip = "H20-96GB"};
  cr_assert_eq(sc_replicas_command(s, &sim, vidx, 1, "/bin/suanchi", NULL, 0, "/tmp/p", buf, sizeof buf, argv, 64, env,
                                   sizeof env, why, sizeof why), 0, "%s", why);
  joined(argv, line, sizeof line);
  cr_assert_str_eq(line, "/bin/suanchi engine --simulate H20-96GB --sim-params 8000000000 --listen 127.0.0.1:0 "
                         "--port-file /tmp/p --model-name chat");
  json_decref(s);
}

Test(replicas, impossible_combinations_explain) {
  json_t *s = spec("external", "vllm");
  sc_device cpu = {.driver = "cpu", .vendor = "cpu", .chip = "CPU-x86_64"};
  int vidx[1] = {0};
  char buf[4096], env[256], why[256], *argv[64];
  cr_assert_neq(sc_replicas_command(s, &cpu, vidx, 1, "/bin/suanchi", NULL, 0, "/tmp/p", buf, sizeof buf, argv, 64, env,
                                    sizeof env, why, sizeof why), 0);
  cr_assert(strstr(why, "cannot run on a cpu device"), "%s", why);
  json_decref(s);
  s = spec("external", "tgi");
  sc_device gpu = {.driver = "nvml", .vendor = "nvidia", .chip = "L40S-48GB"};
  cr_assert_neq(sc_replicas_command(s, &gpu, vidx, 1, "/bin/suanchi", NULL, 0, "/tmp/p", buf, sizeof buf, argv, 64, env,
                                    sizeof env, why, sizeof why), 0);
  cr_assert(strstr(why, "no engine template 'tgi'"), "%s", why);
  cr_assert_neq(sc_replicas_command(s, NULL, vidx, 1, "/bin/suanchi", NULL, 0, "/tmp/p", buf, sizeof buf, argv, 64, env,
                                    sizeof env, why, sizeof why), 0);
  json_decref(s);
}
