struct smtp_address;

enum message_address_parse_flags {
	/* Set a missing mailbox and domain to MISSING_MAILBOX and
	   MISSING_DOMAIN instead of "". */
	MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING = BIT(0),
	/* Reject local parts with leading, trailing or repeated dots
	   (RFC 5322 strictly). */
	MESSAGE_ADDRESS_PARSE_FLAG_STRICT_DOTS = BIT(1),
};
