"""Ordinary mails that look like bounces, and automatic replies, written by hand."""
import json, secrets, base64, email.header
from pathlib import Path
OUT = Path("/tmp/bgen/hand"); LAB = {}
DESK = "support@desk.example.com"
n = [0]
def mid(dom): return f"<{secrets.token_hex(8)}@{dom}>"
def hdr(s, cs="utf-8"):
    try: s.encode("ascii"); return s
    except UnicodeEncodeError: return email.header.Header(s, cs).encode()
def mail(name, frm, subj, body, label="ordinary", source="", to=DESK, extra="", ct="text/plain; charset=utf-8", cs="utf-8"):
    n[0] += 1
    dom = frm.split("@")[-1].rstrip(">").strip()
    head = (f"From: {frm}\nTo: {to}\nSubject: {hdr(subj, cs)}\nDate: Mon, 7 Dec 2026 1{n[0]%10}:{n[0]%60:02d}:00 +0100\nMessage-ID: {mid(dom)}\n{extra}MIME-Version: 1.0\nContent-Type: {ct}\n")
    if cs != "utf-8": data = head.encode() + b"Content-Transfer-Encoding: 7bit\n\n" + body.encode(cs)
    else: data = (head + "Content-Transfer-Encoding: 8bit\n\n" + body).encode()
    (OUT / f"fresh2-{name}.eml").write_bytes(data)
    LAB[f"fresh2-{name}.eml"] = {"label": label, "source": source or "written for this project"}
W = "written for this project"
mail("ordinary-subject-undelivered-question", "Karin Vogt <karin.vogt@customer.example.org>", "Undelivered emails to our new office?",
 "Hello,\n\nsince Monday our Munich colleagues say they don't get any of our mails; nothing bounces on our side either.\nCould you check whether mail to @munich.customer.example.org is still routed to the old server?\n\nThanks,\nKarin\n", source=W + ": a person asking about undelivered mail (no bounce involved)")
mail("ordinary-fw-undeliverable-with-comment", "Tom Becker <tom.becker@customer.example.org>", "FW: Undeliverable: Quarterly report",
 "Hi support,\n\nI keep getting this when I write to our auditor. The address is right, I checked with her by phone. Can you see why?\n\nTom\n\n________________________________\nFrom: Microsoft Outlook <postmaster@auditfirm.example>\nSent: Monday, December 7, 2026 9:01 AM\nTo: Tom Becker\nSubject: Undeliverable: Quarterly report\n\nDelivery has failed to these recipients or groups:\n\nanna.k@auditfirm.example\nThe email address you entered couldn't be found. Please check the recipient's email address and try to resend the message.\n\nDiagnostic information for administrators:\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n",
 extra="Thread-Topic: Undeliverable: Quarterly report\nX-MS-Has-Attach: \nContent-Language: en-US\n", source=W + ": a user forwarding an Outlook NDR inline with a question (Outlook's forward header block)")
mail("ordinary-zendesk-request-quotes-bounce", "Acme Support <support@acme-vendor.zendesk.example>", "[Acme] Re: Mail delivery failed to your ticket address (Request #48213)",
 "##- Please type your reply above this line -##\n\nYour request (48213) has been updated. To add additional comments, reply to this email.\n\nLiam (Acme Support)\nDec 7, 2026, 10:14 CET\n\nHi,\n\nour notification to you bounced with the message below. Could you check that support@desk.example.com accepts mail from our platform?\n\n> Mail delivery failed: returning message to sender\n> 550 5.7.1 Message rejected as spam by content filter\n\nThanks,\nLiam\n",
 extra="X-Mailer: Zendesk Mailer\nReply-To: Acme Support <support+id48213@acme-vendor.zendesk.example>\n", source=W + ": another company's help desk (Zendesk layout) writing about a bounce and quoting it")
mail("ordinary-postmaster-human-stop-sending", "Postmaster <postmaster@customer.example.org>", "Please stop sending to old addresses",
 "Hello,\n\nI am the mail administrator at Customer Ltd. Your help desk still writes to addresses of people who left us in 2024 (e.g. p.old@customer.example.org).\nPlease clean your address book; we will start rejecting these next month.\n\nRegards,\nMartin Kühn\nIT Operations, Customer Ltd.\n", source=W + ": a human postmaster writing from postmaster@")
mail("ordinary-postmaster-whitelisted", "postmaster@partner.example.net", "Re: Our replies are rejected by your server",
 "Hi,\n\nwe have added your outbound IP 192.0.2.25 to our allow list. The 554 rejections should stop within the hour; please send one test mail and tell me if it arrives.\n\nBest,\nGreta\n\n> Our replies to your users are rejected with 554 5.7.1.\n> Could you check?\n",
 extra=f"In-Reply-To: <deskmail.{secrets.token_hex(6)}@desk.example.com>\n", source=W + ": a postmaster answering in a thread, quoting the rejection code")
mail("ordinary-dhl-delivery-update", "DHL Paket <noreply@dhl-notifications.example>", "Delivery update: your parcel 00340434161234567890 could not be delivered",
 "Hello,\n\nwe tried to deliver your parcel today at 10:42 but nobody was home.\nDelivery status: Not delivered - recipient absent.\nYour parcel is waiting at the Packstation 112 for 7 days.\n\nYour DHL team\n",
 extra="Precedence: bulk\nList-Unsubscribe: <https://dhl-notifications.example/unsub>\n", source=W + ": a parcel carrier's 'could not be delivered' notice")
mail("ordinary-newsletter-deliverability", "Sendwise Blog <newsletter@sendwise-marketing.example>", "5 ways to cut your bounce rate before the holidays",
 "<html><body><h1>Delivery matters</h1><p>Hard bounces, soft bounces, mailbox full, 550 5.1.1: we explain what every delivery status means and how to keep your list clean.</p><p><a href='https://sendwise-marketing.example/blog'>Read more</a></p><p>You receive this because you subscribed. <a href='https://sendwise-marketing.example/unsub'>Unsubscribe</a></p></body></html>\n",
 ct="text/html; charset=utf-8", extra="List-Unsubscribe: <mailto:unsub@sendwise-marketing.example>\nPrecedence: bulk\n", source=W + ": a marketing newsletter full of bounce vocabulary")
mail("ordinary-user-pastes-mail-delivery-failed", "Jonas Weber <jonas@customer.example.org>", "Mail delivery failed: returning message to sender",
 "Hi,\n\nthat's the subject of what I got back when I wrote to the tax office this morning. I deleted it, sorry. It said something about 'permanent error' and the address.\nWhat can I do?\n\nJonas\n", source=W + ": a person reusing a bounce's subject for their question")
mail("ordinary-nagios-mail-queue", "nagios@monitor.customer.example.org", "** PROBLEM Service Alert: mx1/Mail queue is CRITICAL **",
 "***** Nagios *****\n\nNotification Type: PROBLEM\n\nService: Mail queue\nHost: mx1\nAddress: 10.0.0.25\nState: CRITICAL\n\nDate/Time: Mon Dec 7 10:20:00 CET 2026\n\nAdditional Info:\n\nCRITICAL: mailq is 523 (threshold w = 100, c = 500); 487 deferred: 'Connection timed out', 36 bounced\n",
 source=W + ": a Nagios alert about deferred and bounced mail (monitoring mail opens a ticket)")
mail("ordinary-logwatch-postfix", "root <root@mx1.customer.example.org>", "Logwatch for mx1 (Linux)",
 "################### Logwatch 7.8 (01/22/23) ####################\n        Processing Initiated: Mon Dec  7 06:25:01 2026\n        Detail Level of Output: 0\n        Logfiles for Host: mx1\n##################################################################\n\n --------------------- Postfix Begin ------------------------\n\n    4.123M  Bytes accepted\n       812  Accepted                                  97.13%\n        24  Rejected                                   2.87%\n\n        36  Bounced (remote)\n        12  Deferred\n\n    550 5.1.1 <unknown user>           19 Time(s)\n    Delivery status notifications sent: 36\n\n ---------------------- Postfix End -------------------------\n",
 source=W + ": a Logwatch report with Postfix bounce counts")
mail("ordinary-user-550-5-7-26", "Sofia Marin <s.marin@customer.example.org>", "Mails to Gmail bounce with 5.7.26",
 "Hello,\n\nsince this morning every mail I send to gmail.com addresses comes back with:\n\n550-5.7.26 Unauthenticated email from customer.example.org is not accepted due to domain's DMARC policy.\n\nDid someone change our DNS? It's urgent, our customers use Gmail.\n\nSofia\n", source=W + ": a person quoting a 5.7.26 rejection")
mail("ordinary-japanese-mail-not-arriving", "=?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEI+IBsoQg==?= <yamada@customer.example.jp>", "メールが届かない件",
 "サポートご担当者様\n\nお世話になっております。山田です。\n取引先にメールを送ると「配信不能」というメールが返ってきます。\nアドレスは正しいはずです。確認していただけますか。\n\nよろしくお願いいたします。\n", cs="iso-2022-jp", ct="text/plain; charset=ISO-2022-JP", source=W + ": a Japanese user asking why mail does not arrive (ISO-2022-JP)")
mail("ordinary-german-unzustellbar-frage", "Petra Hahn <p.hahn@kunde.example.de>", "Unzustellbar: Rechnung Dezember",
 "Hallo zusammen,\n\nich habe eben die Meldung \"Unzustellbar\" bekommen, als ich die Rechnung an die Buchhaltung schicken wollte.\nDer Empfänger sei unbekannt. Können Sie prüfen, ob buchhaltung@kunde.example.de noch existiert?\n\nViele Grüße\nPetra Hahn\n", source=W + ": a German user using 'Unzustellbar:' as her subject")
mail("ordinary-french-message-non-distribue", "Luc Moreau <luc.moreau@client.example.fr>", "Message non distribué ?",
 "Bonjour,\n\nj'ai reçu un « message non distribué » en écrivant au service paie. Pourtant l'adresse est correcte.\nPouvez-vous regarder ?\n\nMerci,\nLuc\n", source=W + ": a French user asking about a non-delivery notice")
mail("ordinary-spanish-correo-devuelto", "Lucia Garcia <lucia@cliente.example.es>", "Correo devuelto al enviar a proveedores",
 "Hola,\n\nlos correos que envío a proveedores@cliente.example.es me vuelven con un error de entrega desde ayer.\n¿Podéis revisar el buzón? Creo que está lleno.\n\nGracias,\nLucía\n", source=W + ": a Spanish user writing about returned mail")
mail("ordinary-postfix-users-list", "Wietse Venema via Postfix-users <postfix-users@postfix.org>", "[pfx] Re: bounce_template_file and delay warnings",
 "On Mon, Dec 07, 2026, Someone wrote:\n> Can I translate the delay_template so users see German warnings?\n\nYes. See bounce(5). Start from 'postconf -b' output, edit the\ndelay_template, and set bounce_template_file. The DSN part of the\nbounce stays machine-readable.\n\n\tWietse\n_______________________________________________\nPostfix-users mailing list -- postfix-users@postfix.org\n",
 to="support@desk.example.com", extra="List-Id: Postfix users <postfix-users.postfix.org>\nPrecedence: list\nList-Post: <mailto:postfix-users@postfix.org>\n", source=W + ": a mailing-list post discussing bounce templates")
mail("ordinary-shop-delivery-status", "Bürobedarf24 <order@buero24-shop.example>", "Delivery status: your order 88123 has shipped",
 "Thank you for your order!\n\nDelivery status: Shipped\nCarrier: UPS, tracking 1Z999AA10123456784\nExpected delivery: Wed, 9 Dec 2026\n\nItems: 5x toner HP 26A\n", extra="Auto-Submitted: auto-generated\n", source=W + ": a shop's 'delivery status' notice, Auto-Submitted: auto-generated")
mail("ordinary-abuse-desk-reply", "Abuse Team <abuse@hoster.example.net>", "Re: [Abuse #77812] Spam complaint about your IP 192.0.2.25",
 "Dear customer,\n\nwe received a complaint (ARF report from a feedback loop) about mail sent from your server 192.0.2.25.\nPlease check the attached example and reply within 48 hours with the measures you took.\n\nKind regards,\nAbuse Team\n", source=W + ": a hosting provider's abuse desk (a person) mentioning an ARF complaint")
mail("ordinary-it-news-mail-migration", "\"Mail Delivery Team\" <it-news@customer.example.org>", "Email migration this weekend: some mail may be delayed",
 "Dear colleagues,\n\non Saturday we move our mailboxes to the new platform. Between 08:00 and 12:00 incoming mail may be delayed; nothing will be lost and nothing will bounce.\n\nYour IT team\n", source=W + ": an internal announcement from a 'Mail Delivery Team' display name")
mail("ordinary-vendor-support-smtp-errors", "Relaymail Support <help@relaymail-vendor.example>", "Re: SMTP 550 errors on our relay",
 "Hi,\n\nthanks for the logs. The lines\n\n  status=bounced (host mx.customer.example.org said: 550 5.1.1 <x@customer.example.org>: Recipient address rejected: User unknown)\n\nmean the recipient server refused those addresses; our relay is working as it should.\nFinal-Recipient and Action: failed in the DSNs you attached say the same.\n\nBest regards,\nRelaymail Support\n", source=W + ": a vendor's support engineer explaining pasted Postfix log lines and DSN fields")
mail("ordinary-reply-dsn-subject-resend", "Olaf Schmitt <olaf@customer.example.org>", "Re: Delivery Status Notification (Failure)",
 "We fixed the typo in the address on our side, please resend your last message about the ticket.\n\nOlaf\n\nOn Mon, 7 Dec 2026, Mail Delivery Subsystem wrote:\n> ** Address not found **\n",
 extra=f"In-Reply-To: <{secrets.token_hex(6)}@mx.google.com>\n", source=W + ": a person replying to a Gmail DSN")
mail("ordinary-hr-returned-letter", "HR Team <hr@customer.example.org>", "Returned to sender: your payslip letter",
 "Dear Ms Weiss,\n\nthe letter with your November payslip came back to us marked \"Return to sender - addressee unknown\".\nPlease update your postal address in the HR portal.\n\nHR Team\n", source=W + ": a returned paper letter")
mail("ordinary-weekly-gateway-report", "Mail Gateway Reports <reports@gw.customer.example.org>", "Weekly mail flow summary: 12,481 delivered, 112 bounced, 9 deferred",
 "Weekly summary for customer.example.org (30 Nov - 6 Dec 2026)\n\nDelivered: 12481\nBounced: 112 (550 5.1.1: 80, 552 5.2.2: 21, other: 11)\nDeferred: 9\nQuarantined: 33\n\nTop bounced senders:\n  newsletter@customer.example.org  71\n  support@desk.example.com          2\n",
 extra="Auto-Submitted: auto-generated\n", source=W + ": a gateway's weekly report with bounce counts, Auto-Submitted: auto-generated")
mail("ordinary-mailchimp-campaign-report", "Mailchimp <no-reply@mailchimp-reports.example>", "Campaign report: December update - 3 hard bounces",
 "Your campaign \"December update\" was sent to 1,204 recipients.\n\nOpens: 48.2%\nClicks: 6.1%\nHard bounces: 3\nSoft bounces: 11\nUnsubscribes: 2\n\nView the full report in your account.\n", source=W + ": a campaign report listing bounces")
mail("ordinary-uptime-smtp-check", "UptimeRobot <alert@uptimerobot-alerts.example>", "Monitor is DOWN: SMTP mail.customer.example.org",
 "Hi,\n\nThe monitor SMTP mail.customer.example.org (port 25) is currently DOWN (Connection Timeout).\n\nEvent timestamp: 2026-12-07 10:31:02 CET\n", source=W + ": an uptime monitor's SMTP alert")
mail("ordinary-russian-pismo-ne-dostavleno", "Anna Smirnova <a.smirnova@customer.example.ru>", "Письмо не доставлено",
 "Здравствуйте!\n\nМои письма партнёру возвращаются с ошибкой «адрес не найден». Адрес правильный, я проверила.\nПомогите, пожалуйста.\n\nАнна\n", source=W + ": a Russian user writing 'letter not delivered'")
mail("ordinary-chinese-tuixin-question", "Li Na <lina@customer.example.cn>", "关于退信的问题",
 "您好，\n\n我发给客户的邮件总是被退信，提示“收件人不存在”。但是地址是对的。请帮忙检查一下。\n\n谢谢！\n李娜\n", source=W + ": a Chinese user asking about bounced mail")
mail("ordinary-italian-messaggio-non-recapitato", "Marco Rossi <m.rossi@cliente.example.it>", "Messaggio non recapitato all'ufficio acquisti",
 "Buongiorno,\n\nricevo \"Messaggio non recapitato\" quando scrivo all'ufficio acquisti. Potete verificare?\n\nGrazie,\nMarco\n", source=W + ": an Italian user using a bounce phrase as the subject")
mail("ordinary-password-changed-null-sender", "Customer Portal <noreply@portal.customer.example.org>", "Your password was changed",
 "Hello Eva,\n\nthe password of your portal account was changed on 7 December 2026 at 10:44.\nIf this wasn't you, reply to this mail.\n", extra="Return-Path: <>\n", source=W + ": a notification sent with an empty Return-Path")
mail("ordinary-ticket-about-ndr-screenshot", "Nina Frank <nina.frank@customer.example.org>", "Error 550 5.1.1 when writing to the bank",
 "Hello,\n\nscreenshot of the error attached (I could not copy the text). It says 550 5.1.1 user unknown and 'Your message couldn't be delivered'.\n\nNina\n", source=W + ": a user describing an NDR she could only screenshot (image left out)")
mail("ordinary-jira-bounce-issue", "Jira <jira@customer.atlassian.example>", "[JIRA] (OPS-412) Bounce handling for the newsletter",
 "Markus Lang created OPS-412:\n\nSummary: Bounce handling for the newsletter\nDescription: Mailer-daemon replies to newsletter@ pile up in the shared mailbox; configure VERP and parse DSNs (Action: failed, Status: 5.x.x).\n",
 extra="Auto-Submitted: auto-generated\nPrecedence: bulk\nX-JIRA-FingerPrint: 3f1c2a\n", source=W + ": a Jira notification about bounce handling, Auto-Submitted: auto-generated")
mail("ordinary-github-notification-dsn", "Bart Dev <notifications@github.example>", "Re: [mailstack/parser] Parse message/delivery-status parts (Issue #211)",
 "I think the parser should also accept `Content-Type: message/delivery-status` parts without a blank line after the per-message fields.\n\nExample:\n```\nReporting-MTA: dns; mx.example.com\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n```\n\n--\nReply to this email directly or view it on GitHub.\n",
 extra="List-ID: mailstack/parser <parser.mailstack.github.example>\nPrecedence: list\n", source=W + ": a GitHub issue notification quoting DSN fields")
mail("ordinary-bank-payment-returned", "Bank Service <service@bank.example>", "Payment returned: transfer 2026-12-04 could not be delivered to the beneficiary",
 "Dear customer,\n\nyour transfer of EUR 1,250.00 of 4 December was returned by the beneficiary bank (reason: account closed).\nThe amount has been credited back to your account.\n", source=W + ": a bank's 'payment returned' notice")
mail("ordinary-calendar-review-failures", "Eva Brandt <eva.brandt@customer.example.org>", "Invitation: Review of mail delivery failures @ Thu 10 Dec 2026 14:00",
 "You are invited to: Review of mail delivery failures\nWhen: Thu 10 Dec 2026 14:00 - 15:00\nWhere: Room 4.12\n\nAgenda: the bounces and 'undeliverable' reports we saw since the migration.\n", source=W + ": a meeting invitation about bounces")
mail("ordinary-fw-phish-mail-delivery", "Paul Richter <paul.richter@customer.example.org>", "FW: Mail Delivery Failure: 3 messages pending",
 "Is this real? It looks like our mail system but the link goes somewhere else.\n\nPaul\n\n-----Original Message-----\nFrom: Mail Administrator <admin@mailbox-upgrade.example>\nSent: Monday, December 7, 2026 8:55 AM\nSubject: Mail Delivery Failure: 3 messages pending\n\nYou have 3 undelivered messages. Click here to release them within 24 hours.\n", source=W + ": a user forwarding a phishing mail dressed as a bounce")
mail("ordinary-postmaster-display-name-person", "\"Postmaster (Jan)\" <postmaster@small-office.example>", "We changed our mail server",
 "Hi,\n\nfrom today our mail goes through mx.newhost.example. If our mails land in your spam, please allow this host.\n\nJan, the one-man IT of Small Office\n", source=W + ": a person writing as 'Postmaster' from postmaster@")
mail("ordinary-reply-returned-mail-subject", "Claire Dubois <claire@client.example.fr>", "Re: Returned mail: see transcript for details",
 "I received this notice after sending you the contract. Did you get it in the end? If not I will send it by post.\n\nClaire\n", source=W + ": a person reusing Sendmail's bounce subject in a reply")
mail("autoreply-helpdesk-ack-other-company", "IT Service Desk <servicedesk@partner.example.net>", "[SD-99120] Mail delivery problem to desk.example.com - received",
 "Your request SD-99120 \"Mail delivery problem to desk.example.com\" has been received and assigned to our messaging team.\n\nSummary: our mails to support@desk.example.com bounce with '554 5.7.1 rejected by content filter'.\n", extra="Auto-Submitted: auto-generated\n",
 label="auto-reply", source=W + ": another help desk's automatic acknowledgement of a ticket about a bounce (labelled auto-reply: automatic answer to our mail)")
# automatic replies
mail("autoreply-outlook-automatic-reply", "Eva Brandt <eva.brandt@customer.example.org>", "Automatic reply: [Incident] [IT] 401-k3j4h5g6 Screen flickers",
 "I am out of the office until 14 December with limited access to email. For urgent matters, please contact Nina Frank.\n",
 extra="Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: eva.brandt@customer.example.org\nThread-Topic: [Incident] [IT] 401-k3j4h5g6 Screen flickers\n", label="auto-reply", source="written after Exchange/Outlook's automatic reply (Automatic reply:, Auto-Submitted: auto-generated, X-Auto-Response-Suppress)")
mail("autoreply-gmail-vacation", "Luc Moreau <luc.moreau@client.example.fr>", "Re: [Incident] [IT] 402-p5o6i7u8 Badge",
 "Bonjour, je suis en congés jusqu'au 4 janvier. Luc\n", extra="Auto-Submitted: auto-replied\nPrecedence: bulk\nX-Autoreply: yes\n", label="auto-reply", source="written after Gmail's vacation responder (Auto-Submitted: auto-replied, subject Re:)")
mail("autoreply-lotus-notes", "Hans Keller <hans.keller@proseware-fresh.example>", "Hans Keller ist außer Haus.",
 "Ich werde ab 07.12.2026 nicht im Büro sein. Ich kehre zurück am 18.12.2026.\n\nIch werde Ihre Nachricht nach meiner Rückkehr beantworten.\n", extra="Auto-Submitted: auto-generated\nX-Mailer: Lotus Notes Release 9.0.1\n", label="auto-reply", source="written after Lotus Notes' out-of-office notice ('... ist außer Haus.')")
mail("autoreply-freshdesk-ack", "Contoso Support <support@contoso.freshdesk.example>", "Ticket Received - [Incident] [IT] 403-q1a2z3w4 Printer",
 "Dear Service Desk,\n\nWe would like to acknowledge that we have received your request and a ticket has been created (#8821).\nA support representative will review your request and send you a personal response.\n", extra="Auto-Submitted: auto-replied\nX-Freshdesk-Ticket: 8821\n", label="auto-reply", source="written after Freshdesk's ticket-received acknowledgement")
mail("autoreply-servicenow-ack", "Fabrikam IT <fabrikam@service-now.example>", "INC0012345 has been opened on your behalf",
 "Your incident INC0012345 has been opened on your behalf. You can view its status at any time.\nShort description: [Incident] [IT] 404-c4v5b6n7 Laptop replacement\n", extra="Auto-Submitted: auto-generated\n", label="auto-reply", source="written after ServiceNow's incident-opened acknowledgement sent in answer to our mail")
mail("autoreply-japanese-jidou-henshin", "Yamada Taro <yamada@customer.example.jp>", "自動返信: [Incident] [IT] 405-t6y7u8i9",
 "ただいま休暇中のため、12月20日までメールを確認できません。\n", extra="Auto-Submitted: auto-replied\n", label="auto-reply", cs="iso-2022-jp", ct="text/plain; charset=ISO-2022-JP", source="written after a Japanese out-of-office reply ('自動返信')")
mail("autoreply-dutch-afwezig", "Jansen <jansen@ziggo.nl>", "Afwezig: [Incident] [IT] 406-z7x8c9v0",
 "Ik ben afwezig tot en met 11 december. Uw e-mail wordt niet doorgestuurd.\n", extra="X-Autoreply: yes\nAuto-Submitted: auto-replied\n", label="auto-reply", source="written after a Dutch out-of-office ('Afwezig:')")
mail("autoreply-xautoreply-only", "Mike Oduya <mike@customer.example.org>", "Out of Office: Re: [Incident] [IT] 407-b8n9m0q1 VPN",
 "Thanks for your message. I'm travelling this week and will answer on Monday.\n", extra="X-Autoreply: yes\nX-Autorespond: Out of Office\n", label="auto-reply", source="written after an autoresponder that sets only X-Autoreply/X-Autorespond (no Auto-Submitted)")
json.dump(LAB, open("/tmp/bgen/ho.json", "w"), indent=1, ensure_ascii=False)
print(len(LAB), sum(1 for v in LAB.values() if v["label"] == "ordinary"))
LAB2 = {}
_old = dict(LAB)
mail("ordinary-mailer-daemon-in-body-signature", "Rita Lang <rita.lang@customer.example.org>", "Question about MAILER-DAEMON messages",
 "Hi,\n\nevery morning I find two mails from MAILER-DAEMON in my junk folder, about mails I never sent. Should I worry, or delete them?\n\nRita Lang\nAccounting\n", source=W + ": a user asking about backscatter from MAILER-DAEMON")
mail("ordinary-quarantine-digest", "Spam Quarantine <quarantine@gw.customer.example.org>", "Spam Quarantine Summary - 3 messages held",
 "You have 3 messages in your spam quarantine.\n\nFrom: Mail Delivery System <mailer-daemon@unknown.example>  Subject: Undelivered Mail Returned to Sender\nFrom: billing@suspicious.example  Subject: Invoice overdue\nFrom: news@promo.example  Subject: Black Friday\n\nRelease or delete them from the quarantine portal.\n",
 extra="Auto-Submitted: auto-generated\n", source=W + ": a spam-quarantine digest listing a held bounce (a tool's report, not a bounce)")
mail("ordinary-auditor-forwarded-dsn-attachment", "Anna K <anna.k@auditfirm.example>", "Re: FW: Undeliverable: Quarterly report",
 "Hello Tom, hello support,\n\nour mail admin says our server refused your mail because the attachment was too big (552 5.3.4). Please send it as a link instead.\n\nAnna\n", source=W + ": a reply in a thread about a size bounce, quoting the status code")
mail("ordinary-monitoring-bounce-rate", "Grafana <grafana@monitor.customer.example.org>", "[Alerting] Bounce rate above 5% on newsletter sender",
 "[Alerting] Bounce rate above 5% on newsletter sender\n\nMetric: smtp_bounces_total / smtp_sent_total = 7.3%\nRule: newsletter-bounce-rate\nState: alerting since 2026-12-07 10:40 CET\n", extra="Auto-Submitted: auto-generated\n", source=W + ": a Grafana alert about the bounce rate")
mail("ordinary-user-delayed-mail-complaint", "Felix Braun <felix@customer.example.org>", "Delivery delayed?? my mail to the customer arrived 6 hours late",
 "Hi,\n\nI sent an offer at 8:00 and the customer got it at 14:00. I also got a message 'Delivery delayed' in between. Is our server slow?\n\nFelix\n", source=W + ": a person complaining about a 'Delivery delayed' notice")
mail("ordinary-out-of-band-dsn-question-html", "Ines Wolf <ines.wolf@customer.example.org>", "What does \"Action: failed\" mean?",
 "<html><body><p>Hi,</p><p>the message I got back contains lines like <code>Final-Recipient: rfc822; x@y</code>, <code>Action: failed</code>, <code>Status: 5.1.1</code>. What do I have to do?</p><p>Ines</p></body></html>\n",
 ct="text/html; charset=utf-8", source=W + ": an HTML mail of a person quoting DSN fields")
print(len(LAB) - len(_old))
json.dump(LAB, open("/tmp/bgen/ho.json", "w"), indent=1, ensure_ascii=False)
print(len(LAB), sum(1 for v in LAB.values() if v["label"] == "ordinary"))
