"""Administration: rules, staff accounts, API keys, questionnaires, audit log, retention."""
