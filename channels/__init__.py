"""How Huifang reaches customers: SMS, voice, e-mail, each through Twilio/SMTP or the outbox."""
