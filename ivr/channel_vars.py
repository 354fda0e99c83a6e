"""Channel variables vmbox sets for the dialplan (all share the VMBOX_ prefix).

After the AGI call returns, the dialplan reads them to continue (see asterisk_conf/extensions_vmbox.conf);
ACCOUNT is set earlier, by the AMI Originate of a callback call, for [vmbox-callback] to pass on.
"""

RESULT = "VMBOX_RESULT"  # how the call left vmbox: done | operator | callback | failed
DESTINATION = "VMBOX_DESTINATION"  # the number to dial for operator / callback
MESSAGE_ID = "VMBOX_MESSAGE_ID"  # the id of a message left during the call, if any
ACCOUNT = "VMBOX_ACCOUNT"  # callback calls: the account of the box being called about (Originate Variable)

# Values of RESULT.
DONE = "done"
OPERATOR = "operator"
CALLBACK = "callback"
FAILED = "failed"
DOCTOR = "doctor"  # the answer to `vmbox doctor`'s probe call (asterisk_conf/extensions_vmbox.conf)
