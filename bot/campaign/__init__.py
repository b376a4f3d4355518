"""Campaign engine: importing debtors, compliance and retry policy, scheduling attempts."""
