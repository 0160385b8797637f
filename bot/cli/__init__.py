"""The command line: start the bot, the offline demo, the setup check."""
