/* One line per sub-command: CLI_CMD("name", cmd_function, "summary").
 * Keep in the order `bulkhead --help` should show them. */
CLI_CMD("version", cmd_version, "print the version and exit")
