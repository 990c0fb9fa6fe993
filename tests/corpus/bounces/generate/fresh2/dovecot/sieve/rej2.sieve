require "reject";
reject text:
This mailbox is no longer monitored.
Please contact accounts@customer.example.org for anything about your order.
.
;
