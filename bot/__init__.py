"""trustloop: a Slack bot that keeps account teams honest about customer trust."""
