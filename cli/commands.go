package cli

import (
	ucli "github.com/urfave/cli/v2"
)

// commands lists the subcommands; each lives in its own file.
func commands(s Streams) []*ucli.Command {
	return []*ucli.Command{
		deployCommand(s),
		rollbackCommand(s),
		planCommand(s),
		approveCommand(s),
		rejectCommand(s),
		statusCommand(s),
		cancelCommand(s),
		watchCommand(s),
		logsCommand(s),
		execCommand(s),
		historyCommand(s),
		scheduleCommand(s),
		workerCommand(s),
		codecServerCommand(s),
		codecKeyCommand(s),
	}
}
