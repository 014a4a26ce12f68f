/* One line per sub-command: CLI_CMD("name", cmd_function, "summary").
 * Keep in the order `bulkhead --help` should show them. */
CLI_CMD("version", cmd_version, "print the version and exit")
CLI_CMD("policy", cmd_policy, "check RPC policy files and evaluate a call (lint, eval)")
CLI_CMD("service", cmd_service, "supervise services: list, restart, kill, swap")
CLI_CMD("audit", cmd_audit, "what each service is and may do (binary, uid, caps, syscalls, routes)")
CLI_CMD("run", cmd_run, "run a command in a running qube (stdout/stderr relayed; --pass-io for stdin)")
CLI_CMD("events", cmd_events, "print bus events live until Ctrl-C")
CLI_CMD("fault", cmd_fault, "inject bus faults for testing (add, list, clear)")
CLI_CMD("firewall", cmd_firewall, "per-qube firewall rules, as qvm-firewall: list, add, del, reset")
CLI_CMD("volume", cmd_volume, "volumes of qubes: list, info, revisions, revert, config")
CLI_CMD("template", cmd_template, "templates: install minimal|debian-12, import NAME PATH, list")
