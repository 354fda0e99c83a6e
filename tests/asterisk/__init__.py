"""A real Asterisk for the suite: found (install.py), configured in a temporary directory with vmbox's
own asterisk_conf/*.conf included unchanged (config.py), started and stopped (server.py), driven over
AMI (ivr/ami_client.py, the client `vmbox doctor` uses); test calls placed on Local channels with a
scripted caller whose ears are recorded (phone.py, heard.py); `vmbox serve` beside it (vmbox.py);
scenarios run concurrently (scenarios.py, harness.py)."""
