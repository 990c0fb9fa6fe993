require "ereject";
ereject "550 5.7.1 Refused by the recipient's rules";
