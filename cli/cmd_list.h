/* One line per sub-command: CLI_CMD("name", cmd_function, "summary").
 * Keep in the order `bulkhead --help` should show them. */
CLI_CMD("version", cmd_version, "print the version and exit")
CLI_CMD("policy", cmd_policy, "check RPC policy files and evaluate a call (lint, eval)")
CLI_CMD("events", cmd_events, "print bus events live until Ctrl-C")
CLI_CMD("fault", cmd_fault, "inject bus faults for testing (add, list, clear)")
