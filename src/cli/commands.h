/*
 * commands.h — every subcommand's entry point. main.c dispatches to these; each lives in the
 * module that owns it. argv[0] is the first argument after the subcommand name.
 * Return value: the process exit code (0 success, 1 runtime error, 2 usage error).
 */
#ifndef SC_CLI_COMMANDS_H
#define SC_CLI_COMMANDS_H

/* pool (src/control, src/agent, src/cli) */
int sc_cmd_serve(int argc, char **argv);
int sc_cmd_agent(int argc, char **argv);
int sc_cmd_region(int argc, char **argv);
int sc_cmd_regions(int argc, char **argv);
int sc_cmd_owner(int argc, char **argv);
int sc_cmd_owners(int argc, char **argv);
int sc_cmd_token(int argc, char **argv);
int sc_cmd_node(int argc, char **argv);
int sc_cmd_nodes(int argc, char **argv);
int sc_cmd_devices(int argc, char **argv);
int sc_cmd_discover(int argc, char **argv);
int sc_cmd_chips(int argc, char **argv);

/* placement (src/sched) */
int sc_cmd_place(int argc, char **argv);
int sc_cmd_sched_bench(int argc, char **argv);

/* engine (src/engine) */
int sc_cmd_model(int argc, char **argv);
int sc_cmd_tokenize(int argc, char **argv);
int sc_cmd_engine(int argc, char **argv);

/* serving (src/control, src/cli/cmd_serving.c, src/gateway) */
int sc_cli_model_add(int argc, char **argv); /* `suanchi model add`, reached through `model` */
int sc_cmd_models(int argc, char **argv);
int sc_cmd_deploy(int argc, char **argv);
int sc_cmd_deployments(int argc, char **argv);
int sc_cmd_replicas(int argc, char **argv);
int sc_cmd_undeploy(int argc, char **argv);
/* serving (src/gateway) */
int sc_cmd_tenant(int argc, char **argv);
int sc_cmd_tenants(int argc, char **argv);
int sc_cmd_key(int argc, char **argv);
int sc_cmd_keys(int argc, char **argv);
int sc_cmd_usage(int argc, char **argv);
int sc_cmd_endpoint(int argc, char **argv);
int sc_cmd_endpoints(int argc, char **argv);

#endif
