"""What to look at when a step fails, for a job read from an Octopus XML file.

Said in the tags such a file can set (deskmail's own <caFile> included), for
`deskmail check` and for the infrastructure event alike.
"""

from __future__ import annotations

from deskmail.sources.errors import Step

OCTOPUS_HINTS: dict[Step, str] = {
    Step.DNS: "Check <serverName>: it does not resolve from this machine.",
    Step.CONNECT: "Check <serverName> and <port>: is the mail server running,"
    " does a firewall block the connection?",
    Step.TIMEOUT: "The server did not answer in time: check <port> and the firewall.",
    Step.TLS: "Check <useSsl> against <port>: true for implicit-TLS ports (995, 993),"
    " false for 110 and 143.",
    Step.CERTIFICATE: "The server's certificate is not trusted: name the CA that issued it"
    " in <caFile> (a PEM file; a deskmail tag), or install it in this machine's trusted"
    " certificates, as Octopus requires.",
    Step.STARTTLS: "The server wants TLS: set <useSsl> to true with its implicit-TLS port.",
    Step.AUTHENTICATION: "Check <userName> and <password>, and that the account is not"
    " locked or its password expired.",
    Step.FOLDER: "The job reads the INBOX: check that the account has one.",
    Step.MAILBOX: "Check the mailbox's address and that the app may open that mailbox.",
    Step.PROTOCOL: "The server's answer was not understood: check <gatewayTypeName> and <port>.",
    Step.SECRET: "Check <password>: the password could not be read.",
    Step.IDENTITY: "Check the job's OAuth2 tenant, and that this host reaches the identity"
    " provider.",
    Step.CLIENT: "Check the job's OAuth2 client id and its secret or certificate.",
    Step.CONSENT: "Grant the app the permissions the job needs (admin consent).",
    Step.SIGN_IN: "Sign in again with deskmail auth login for this job.",
}
