import sys; sys.argv=["x"]
exec(open("/tmp/bgen/hb.py").read().split("DESK = ")[0])
LAB = {}
DESK = "support@desk.example.com"
import email.header
def jis(s): return s.encode("iso-2022-jp")
def jhdr(s): return email.header.Header(s, "iso-2022-jp").encode()

# ---------- ARF feedback reports from several providers ----------
def arf(name, frm, subj, human, fields, m, r, source, extra=""):
    b = bnd()
    t = (f"From: {frm}\nTo: {DESK}\nSubject: {subj}\nDate: Mon, 7 Dec 2026 12:00:00 +0000\nMessage-ID: <{secrets.token_hex(8)}@{frm.split('@')[-1].rstrip('>')}>\n{extra}MIME-Version: 1.0\n"
         f"Content-Type: multipart/report; report-type=feedback-report; boundary=\"{b}\"\n\n--{b}\nContent-Type: text/plain; charset=\"US-ASCII\"\nContent-Transfer-Encoding: 7bit\n\n{human}\n"
         f"--{b}\nContent-Type: message/feedback-report\n\n{fields}\n\n--{b}\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n{orig(m, r, subj='Re: [Incident] [IT] 360-w2e3r4t5 Your ticket was updated')}--{b}--\n")
    save(name, t, "feedback-report", source, (), m)
m = mid(); r = "lucy.complains@aol.com"
arf("arf-aol-abuse", "AOL Feedback Loop <scomp@aol.net>", "Email Feedback Report for IP 192.0.2.25",
    "This is an email abuse report for an email message received from IP 192.0.2.25 on Mon, 7 Dec 2026 11:58:01 +0000.\nFor information, please review the AOL Feedback Loop guidance.",
    "Feedback-Type: abuse\nUser-Agent: AOL SComp\nVersion: 1\nReceived-Date: Mon, 7 Dec 2026 11:58:01 +0000\nSource-IP: 192.0.2.25\nReported-Domain: desk.example.com\nRedacted-Address: redacted@aol.com", m, r,
    "written after AOL's (now Yahoo's) ARF feedback-loop report ('Email Feedback Report for IP', User-Agent: AOL SComp)")
m = mid(); r = "bob.c@comcast.net"
arf("arf-comcast", "Comcast Feedback Loop <feedbackloop@comcastfbl.senderscore.net>", "complaint about message from 192.0.2.25",
    "This is an email abuse report for an email message with the message-id of " + m + " received from IP address 192.0.2.25 on Mon, 07 Dec 2026 12:01:11 -0500 (EST)\n\nFor information, please review the Comcast Feedback Loop program at https://postmaster.comcast.net.",
    "Feedback-Type: abuse\nUser-Agent: ReturnPathFBL/2.0\nVersion: 1\nOriginal-Mail-From: <" + DESK + ">\nArrival-Date: Mon, 07 Dec 2026 12:01:11 -0500\nReporting-MTA: dns; comcastfbl.senderscore.net\nSource-IP: 192.0.2.25\nOriginal-Rcpt-To: " + r, m, r,
    "written after the Return Path / Validity-operated feedback loops' ARF report (Comcast), RFC 5965 fields")
m = mid(); r = "ivanova.desk@mail.ru"
arf("arf-mailru", "Mail.Ru FBL <fbl@corp.mail.ru>", "FW: [Incident] [IT] 362-v5c4x3z2 Ваш запрос зарегистрирован",
    "This is an email abuse report for an email message received from IP 192.0.2.25.\nPlease do not reply to this message.",
    "Feedback-Type: abuse\nUser-Agent: Mail.Ru FBL\nVersion: 1\nOriginal-Mail-From: " + DESK + "\nSource-IP: 192.0.2.25\nReported-Domain: desk.example.com\nArrival-Date: Mon, 07 Dec 2026 15:02:00 +0300", m, r,
    "written after Mail.ru's FBL (ARF; the complaint's subject is FW: plus the reported mail's)")
m = mid(); r = "a.user@rackspace-customer.example"
arf("arf-cloudmark-fraud", "Cloudmark Feedback <cloudmark-fbl@fbl.cloudmark.com>", "[Cloudmark Report] fraud report for desk.example.com",
    "Cloudmark received a fraud report from one of its users about a message sent from your network.",
    "Feedback-Type: fraud\nUser-Agent: Cloudmark-Authority/3.4\nVersion: 1\nOriginal-Mail-From: <" + DESK + ">\nOriginal-Rcpt-To: <" + r + ">\nSource-IP: 192.0.2.25\nReported-Domain: desk.example.com\nAuthentication-Results: mx.fbl.cloudmark.com; spf=pass smtp.mailfrom=desk.example.com", m, r,
    "written after an RFC 5965 'fraud' report as Cloudmark-based feedback loops send it")
m = mid(); r = "dmarc-forensic@receiver-fresh.example"
b = bnd()
t = f"""From: DMARC Forensics <noreply-dmarc@receiver-fresh.example>
To: {DESK}
Subject: FW: Authentication failure report for desk.example.com
Date: Mon, 7 Dec 2026 12:30:00 +0000
Message-ID: <{secrets.token_hex(8)}@receiver-fresh.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="{b}"

--{b}
Content-Type: text/plain; charset="US-ASCII"

This is an authentication failure report for an email message received from IP 198.51.100.77 on Mon, 7 Dec 2026 12:29:55 +0000.

--{b}
Content-Type: message/feedback-report

Feedback-Type: auth-failure
User-Agent: OpenDMARC-Filter/1.4.2
Version: 1
Original-Mail-From: {DESK}
Arrival-Date: Mon, 7 Dec 2026 12:29:55 +0000
Source-IP: 198.51.100.77
Reported-Domain: desk.example.com
Auth-Failure: dmarc
Authentication-Results: mx.receiver-fresh.example; dmarc=fail header.from=desk.example.com; spf=fail smtp.mailfrom=desk.example.com; dkim=none
Delivery-Result: reject

--{b}
Content-Type: text/rfc822-headers

{orig_headers(m, 'someone@receiver-fresh.example')}
--{b}--
"""
save("arf-dmarc-auth-failure", t, "feedback-report", "written after RFC 6591 / RFC 7489 section 7.3 failure reports (Feedback-Type: auth-failure, as OpenDMARC sends them)", (), m)
m = mid(); r = "cust@outlook.com"
arf("arf-microsoft-jmrp-variant", "staff@hotmail.com", "complaint about message from 192.0.2.25",
    "This is an email abuse report for an email message received from IP 192.0.2.25 on Mon, 07 Dec 2026 04:10:00 -0800.\nFor more information about this format please see http://tools.ietf.org/html/rfc5965.",
    "Feedback-Type: abuse\nUser-Agent: Hotmail FBL\nVersion: 0.1\nReceived-Date: Mon, 07 Dec 2026 04:10:00 -0800\nSource-IP: 192.0.2.25\nAuthentication-Results: mx.hotmail.com; sender-id=none; spf=pass smtp.mailfrom=desk.example.com\nReported-Domain: desk.example.com", m, r,
    "written after the Microsoft JMRP report in ARF (sender staff@hotmail.com, 'complaint about message from', User-Agent: Hotmail FBL)")

# ---------- Japanese carriers, ISO-2022-JP ----------
m = mid(); r = "taro-desk@docomo.ne.jp"
body = ("以下のアドレスへのメール送信に失敗しました。\n\n" + f"<{r}>\n" + "このアドレスは存在しないか、受信を拒否しています。\n\n"
        "------ 送信されたメールのヘッダ ------\n")
t = (f"From: Mail Delivery Subsystem <MAILER-DAEMON@docomo.ne.jp>\nTo: {DESK}\nSubject: {jhdr('メール送信エラー')}\nDate: Mon, 7 Dec 2026 21:00:00 +0900\n"
     f"Message-ID: <{secrets.token_hex(8)}@mfsmax.docomo.ne.jp>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n").encode() + jis(body) + orig_headers(m, r).encode()
save("docomo-iso-2022-jp", t, "bounce", "written after NTT docomo's Japanese text bounce (ISO-2022-JP body and MIME-encoded subject 'メール送信エラー', headers of the original)", [r], m)
m = mid(); r = "hanako-desk@i.softbank.jp"
body = ("このメールは、送信先のメールサーバーから自動送信されています。\n\n次の宛先へのメールは配信できませんでした。\n\n" + f"  {r}\n\n" +
        "理由：宛先のメールアドレスが見つかりません。\n\n----- 元のメッセージ -----\n")
t = (f"From: MAILER-DAEMON@i.softbank.jp (Mail Delivery System)\nTo: {DESK}\nSubject: {jhdr('配信不能: ') }[Incident] [IT] 364-s1d2f3g4\nDate: Mon, 7 Dec 2026 21:05:00 +0900\n"
     f"MIME-Version: 1.0\nContent-Type: text/plain; charset=\"iso-2022-jp\"\n\n").encode() + jis(body) + orig(m, r, subj='[Incident] [IT] 364-s1d2f3g4 VPN token').encode()
save("softbank-iso-2022-jp", t, "bounce", "written after SoftBank (i.softbank.jp) Japanese bounce, ISO-2022-JP text with the original appended", [r], m)
m = mid(); r = "jiro-desk@au.com"
b = bnd()
human = "送信したメッセージは、次の宛先に配信できませんでした。\n\n" + f"{r}\n550 5.1.1 Unknown user\n"
t = (f"From: Mail Administrator <Postmaster@au.com>\nTo: {DESK}\nSubject: {jhdr('配信不能通知')}\nDate: Mon, 7 Dec 2026 21:10:00 +0900\nMIME-Version: 1.0\n"
     f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"{b}\"\n\n--{b}\nContent-Type: text/plain; charset=ISO-2022-JP\n\n").encode() + jis(human) + (
     f"\n--{b}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; msmx.au.com\n\nFinal-Recipient: rfc822; {r}\nAction: failed\nStatus: 5.1.1\n\n--{b}\nContent-Type: message/rfc822\n\n{orig(m, r)}--{b}--\n").encode()
save("kddi-au-com-report", t, "bounce", "written after KDDI's au.com bounce as multipart/report with an ISO-2022-JP human part ('配信不能通知', Mail Administrator <Postmaster@>)", [r], m)

# ---------- other languages ----------
def textbounce(name, frm, subj, body, r, m, source, charset="utf-8", headers_only=False, extra=""):
    o = orig_headers(m, r) if headers_only else orig(m, r)
    t = f"From: {frm}\nTo: {DESK}\nSubject: {subj}\nDate: Mon, 7 Dec 2026 13:00:00 +0000\nMessage-ID: <{secrets.token_hex(8)}@{frm.split('@')[-1].rstrip('> ').split()[0]}>\n{extra}MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n{body}\n{o}"
    save(name, t, "bounce", source, [r], m)
m = mid(); r = "petrov-desk@mail.ru"
textbounce("mailru-russian", "Mail Delivery System <MAILER-DAEMON@corp.mail.ru>", "Mail delivery failed: returning message to sender",
 f"Это письмо создано автоматически\nсервером Mail.Ru, отвечать на него не\nнужно.\n\nК сожалению, Ваше письмо не может\nбыть доставлено одному или нескольким\nполучателям:\n\n{r}\nmessage rejected: user not found\n\nРекомендуем Вам проверить корректность\nуказания адресов получателей.\n\nSMTP error from remote mail server after RCPT TO:<{r}>:\n    550 Message was not accepted -- invalid mailbox.  Local mailbox {r} is unavailable: user not found\n\n--Оригинальное сообщение--\n", r, m,
 "written after Mail.ru's Exim-based Russian bounce ('Это письмо создано автоматически сервером Mail.Ru')")
m = mid(); r = "zhangwei-desk@qq.com"
textbounce("qq-chinese", "\"QQ邮箱\" <MAILER-DAEMON@qq.com>", "=?UTF-8?B?" + base64.b64encode("退信：[Incident] [IT] 366-h2j3k4l5".encode()).decode() + "?=",
 f"很遗憾您的邮件没有发送成功。\n\n收件人: {r}\n退信原因: 收件人邮箱不存在 (550 Mailbox not found or access denied)\n\n建议解决方案: 请检查收件人地址是否正确。\n\n----- 原始邮件 -----\n", r, m,
 "written after QQ Mail's Chinese bounce ('退信', '很遗憾您的邮件没有发送成功')")
m = mid(); r = "kimminsu-desk@naver.com"
textbounce("naver-korean", "MAILER-DAEMON <mailer-daemon@naver.com>", "=?UTF-8?B?" + base64.b64encode("메일이 반송되었습니다".encode()).decode() + "?=",
 f"받는 사람: {r}\n\n보낸 메일이 아래와 같은 이유로 반송되었습니다.\n\n반송 사유: 받는 사람의 메일 주소가 존재하지 않습니다.\n550 5.1.1 Recipient address rejected: User unknown\n\n원본 메일 헤더:\n", r, m,
 "written after Naver Mail's Korean bounce notice ('메일이 반송되었습니다')", headers_only=True)
m = mid(); r = "marie-desk@orange.fr"
textbounce("orange-french", "Mail Delivery Subsystem <MAILER-DAEMON@smtp.orange.fr>", "Message non remis : [Incident] [IT] 312-x7k2m9qa Password reset",
 f"Ce message a été généré automatiquement par le serveur smtp.orange.fr.\n\nVotre message n'a pas pu être délivré au(x) destinataire(s) suivant(s) :\n\n<{r}> : 550 5.1.1 Adresse destinataire inconnue / Unknown recipient address\n\nLe message d'origine est joint ci-dessous.\n\n------ Message d'origine ------\n", r, m,
 "written after Orange's French bounce ('Message non remis', 'Votre message n'a pas pu être délivré')")
m = mid(); r = "ute-desk@web.de"
textbounce("webde-german", "Mail Delivery System <mailer-daemon@web.de>", "Mail delivery failed: returning message to sender",
 f"Dies ist eine automatisch generierte Nachricht.\n\nIhre Nachricht konnte an einen oder mehrere Empfänger nicht zugestellt\nwerden. Dies ist ein permanenter Fehler. Die folgenden Adressen\nschlugen fehl:\n\n  {r}\n    Mailbox quota exceeded (552 5.2.2)\n\n--- Die Kopfzeilen der ursprünglichen Nachricht folgen ---\n", r, m,
 "written after WEB.DE's German bounce (mailer-daemon@web.de, 'Dies ist eine automatisch generierte Nachricht'), headers only", headers_only=True)
m = mid(); r = "giulia-desk@libero.it"
textbounce("libero-italian", "\"Mail Delivery System\" <MAILER-DAEMON@libero.it>", "Messaggio non recapitato: [Incident] [IT] 312-x7k2m9qa Password reset",
 f"Questo è un messaggio generato automaticamente dal sistema di posta.\n\nIl messaggio non è stato recapitato ai seguenti destinatari:\n\n{r}\n  Motivo: la casella di posta del destinatario è piena (552 5.2.2 Mailbox full)\n\n--- Di seguito il messaggio originale ---\n", r, m,
 "written after Libero's Italian bounce ('Messaggio non recapitato')")
m = mid(); r = "joao-desk@uol.com.br"
textbounce("uol-portuguese", "MAILER-DAEMON@uol.com.br (Sistema de Entrega de Mensagens)", "Mensagem nao entregue",
 f"Esta é uma mensagem automática do servidor de e-mail do UOL.\n\nNão foi possível entregar sua mensagem para o(s) seguinte(s) destinatário(s):\n\n{r}\n  O endereço de e-mail não existe (550 5.1.1 Usuario inexistente)\n\n----- Mensagem original -----\n", r, m,
 "written after UOL's Portuguese bounce ('Mensagem não entregue')", charset="utf-8")
m = mid(); r = "kowalski-desk@wp.pl"
textbounce("wp-polish", "Mail Delivery System <MAILER-DAEMON@wp.pl>", "Niedostarczona wiadomosc",
 f"Wiadomość została wygenerowana automatycznie.\n\nNie udało się dostarczyć Twojej wiadomości do następujących odbiorców:\n\n  {r}\n  Skrzynka odbiorcy nie istnieje (550 5.1.1 User unknown)\n\n------ Nagłówki wiadomości ------\n", r, m,
 "written after Wirtualna Polska's Polish bounce ('Niedostarczona wiadomość')", headers_only=True)
m = mid(); r = "jansen-desk@ziggo.nl"
textbounce("ziggo-dutch", "Postmaster <postmaster@ziggo.nl>", "Onbestelbaar: [Incident] [IT] 312-x7k2m9qa Password reset",
 f"Dit is een automatisch gegenereerd bericht.\n\nUw bericht kon niet worden afgeleverd bij de volgende ontvanger(s):\n\n  {r}\n  Reden: 550 5.1.1 Mailbox bestaat niet / mailbox unavailable\n\nHieronder vindt u een kopie van uw bericht.\n\n", r, m,
 "written after a Dutch ISP's bounce ('Onbestelbaar', 'Uw bericht kon niet worden afgeleverd')")
m = mid(); r = "jorge-desk@telefonica-cliente.example"
textbounce("exchange-spanish-text", "Administrador del sistema <postmaster@telefonica-cliente.example>", "No se puede entregar: [Incident] [IT] 312-x7k2m9qa Password reset",
 f"No se pudo entregar el mensaje a los siguientes destinatarios o grupos:\n\n{r}\nLa dirección de correo electrónico que escribió no se encuentra. Compruebe la dirección de correo del destinatario e intente volver a enviar el mensaje.\n\nInformación de diagnóstico para administradores:\n\nServidor de generación: EXCH01.telefonica-cliente.example\n\n{r}\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n\nEncabezados del mensaje original:\n\n", r, m,
 "written after Exchange's Spanish NDR ('No se pudo entregar el mensaje a los siguientes destinatarios o grupos'), as text with the original headers", headers_only=True, extra="Content-Language: es-ES\n")

# ---------- gateways and servers ----------
m = mid(); r = "ops@woodgrove-fresh.example"
textbounce("ironport-unknown-address", "Mail Delivery System <MAILER-DAEMON@esa1.woodgrove-fresh.iphmx.com>", "Delivery Status Notification (Failure)",
 f"The following message to <{r}> was undeliverable.\nThe reason for the problem:\n5.1.0 - Unknown address error 550-'5.1.1 <{r}>... User unknown'\n\n", r, m,
 "written after Cisco Secure Email (IronPort AsyncOS) text bounce ('The following message to <...> was undeliverable. The reason for the problem:')")
m = mid(); r = "lab@litware-forti.example"
human = f"Your message could not be delivered to one or more recipients.\n\n<{r}>:\n    550 5.7.1 Message rejected by FortiMail: virus detected (EICAR_TEST_FILE)\n\nFortiMail-400F\n"
report("fortimail-virus", "FortiMail <postmaster@fortimail.litware-forti.example>", DESK, "Undelivered Mail Returned to Sender", human,
       "Reporting-MTA: dns; fortimail.litware-forti.example\nX-FortiMail-Queue-ID: 0B79HqTk012345-0B79HqTl012345",
       f"Final-Recipient: rfc822; {r}\nAction: failed\nStatus: 5.7.1\nDiagnostic-Code: smtp; 550 5.7.1 Message rejected by FortiMail: virus detected",
       orig_headers(m, r), returned_type="text/rfc822-headers", source="written after Fortinet FortiMail's bounce (Postfix-like multipart/report, X-FortiMail-Queue-ID)", failed=[r], m=m)
m = mid(); r = "sales@sophos-customer.example"
textbounce("sophos-email-appliance", "Sophos Email Appliance <postmaster@sea.sophos-customer.example>", "Message delivery failed: [Incident] [IT] 312-x7k2m9qa Password reset",
 f"This message was created automatically by the Sophos Email Appliance.\n\nA message that you sent could not be delivered to one or more of its recipients.\nThis is a permanent error. The following address(es) failed:\n\n  {r}\n    SMTP error from remote mail server after RCPT TO:<{r}>:\n    host exchange.sophos-customer.example [10.20.30.40]: 550 5.1.1 User unknown\n\n------ This is a copy of the message's headers. ------\n", r, m,
 "written after the Sophos Email Appliance's Exim-style bounce text", headers_only=True)
m = mid(); r = "board@kerio-customer.example"
human = f"Delivery to the following recipients failed permanently:\n\n  {r}\n\nReason: Remote host said: 550 5.7.1 <{r}>: Recipient address rejected: Access denied\n\nKerio Connect\n"
report("kerio-connect", "Kerio Connect <postmaster@kerio-customer.example>", DESK, "Undeliverable: [Incident] [IT] 312-x7k2m9qa Password reset", human,
       "Reporting-MTA: dns; mail.kerio-customer.example",
       f"Final-Recipient: rfc822;{r}\nAction: failed\nStatus: 5.0.0\nRemote-MTA: dns; 10.0.0.9\nDiagnostic-Code: smtp; 550 5.7.1 Access denied",
       orig(m, r), source="written after Kerio Connect's DSN ('Delivery to the following recipients failed permanently')", failed=[r], m=m)
m = mid(); r = "mx-user@icewarp-customer.example"
textbounce("icewarp", "\"IceWarp Server\" <postmaster@icewarp-customer.example>", "Undeliverable message",
 f"This is an automatically generated Delivery Status Notification.\n\nMessage could not be delivered to the following recipient(s):\n\n  {r}\n  Error: 550 Account disabled\n\nIceWarp Server\nOriginal message headers follow:\n\n", r, m,
 "written after IceWarp Mail Server's text bounce ('Undeliverable message', 'Account disabled')", headers_only=True)
m = mid(); r = "ana@axigen-customer.example"
human = f"Your message could not be delivered to the following recipient(s):\n\n{r}: 552 5.2.2 Mailbox quota exceeded\n\nThis is a permanent error; I have given up. Sorry it didn't work out.\n\n-- \nAxigen Mail Server\n"
report("axigen-quota", "\"Axigen Mail Server\" <MAILER-DAEMON@mail.axigen-customer.example>", DESK, "Delivery failure: [Incident] [IT] 312-x7k2m9qa Password reset", human,
       "Reporting-MTA: dns; mail.axigen-customer.example",
       f"Final-Recipient: rfc822; {r}\nAction: failed\nStatus: 5.2.2",
       orig(m, r), source="written after Axigen's DSN layout", failed=[r], m=m)
m = mid(); r = "user-x@smartermail-customer.example"
textbounce("smartermail-delay", "postmaster@smartermail-customer.example", "Delivery Delayed: [Incident] [IT] 312-x7k2m9qa Password reset",
 f"The message below has not yet been delivered to one or more recipients, but the server will continue to try.\n\nDelivery will be attempted again until Wed, 09 Dec 2026 13:00 UTC.\n\nRecipient: {r}\nReason: 421 4.4.2 Connection timed out\n\n----- Original message headers -----\n", r, m,
 "written after SmarterMail's delay notice ('Delivery Delayed: ...', 'the server will continue to try')", headers_only=True)
m = mid(); r = "chef@mdaemon-customer.example"
textbounce("mdaemon-warning", "MDaemon at mail.mdaemon-customer.example <MDaemon@mail.mdaemon-customer.example>", "Warning: message delayed",
 f"The attached message has not been delivered to the intended recipient(s) because the destination server could not be reached. MDaemon will keep trying.\n\n  {r}\n\n  Session transcript:\n  Attempting SMTP connection to [mx.mdaemon-customer.example]\n  Could not connect: connection refused\n\nThis is only a warning; you need not resend the message.\n\n", r, m,
 "written after MDaemon's delayed-delivery warning ('Warning: message delayed'), text with the original appended")
m = mid(); r = "staff@groupwise-customer.example"
textbounce("zimbra-postfix-quota", "MAILER-DAEMON@zimbra.groupwise-customer.example (Mail Delivery System)", "Undelivered Mail Returned to Sender",
 f"This is the mail system at host zimbra.groupwise-customer.example.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\nFor further assistance, please send mail to postmaster.\n\n                   The mail system\n\n<{r}>: host 127.0.0.1[127.0.0.1] said:\n    552 5.2.2 Over quota (in reply to end of DATA command)\n\n", r, m,
 "written after a Zimbra (Postfix with the LMTP quota answer) bounce flattened to text, as some list archives show it")
m = mid(); r = "student@campus-fresh.example"
textbounce("qmail-ldap-text", "MAILER-DAEMON@mx.campus-fresh.example", "failure notice",
 f"Hi. This is the qmail-send program at mx.campus-fresh.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<{r}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\n", r, m,
 "written after qmail's (qmail-ldap) bounce text, 'Sorry, no mailbox here by that name. (#5.1.1)'")
m = mid(); r = "info@courier-customer.example"
human = f"This is a delivery status notification from mail.courier-customer.example,\nrunning the Courier mail server, version 1.0.16.\n\nThe original message was received on Mon, 07 Dec 2026 14:00:00 +0000\nfrom desk.example.com [192.0.2.25]\n\n---------------------------------------------------------------------------\n\n                           UNDELIVERABLE MAIL\n\nYour message to the following recipients cannot be delivered:\n\n<{r}>:\n    mail.courier-customer.example [198.51.100.9]:\n>>> RCPT TO:<{r}>\n<<< 550 User unknown.\n\n---------------------------------------------------------------------------\n\nIf your message was also sent to additional recipients, their delivery\nstatus is not included in this report.\n"
report("courier-undeliverable", "Courier mail server at mail.courier-customer.example <@>", DESK, "NOTICE: mail delivery status.", human,
       "Reporting-MTA: dns; mail.courier-customer.example\nArrival-Date: Mon, 07 Dec 2026 14:00:00 +0000",
       f"Final-Recipient: rfc822; {r}\nAction: failed\nStatus: 5.0.0\nRemote-MTA: dns; mail.courier-customer.example\nDiagnostic-Code: smtp; 550 User unknown.",
       orig(m, r), source="written after Courier-MTA's DSN ('NOTICE: mail delivery status.', 'UNDELIVERABLE MAIL', sender <@>)", failed=[r], m=m)
m = mid(); r = "press@icloud.com"
human = f"Your message to {r} couldn't be delivered.\n\n550 5.1.1 <{r}>: user does not exist\n"
report("icloud-user-does-not-exist", "Mail Delivery System <MAILER-DAEMON@icloud.com>", DESK, "Undelivered Mail Returned to Sender", human,
       "Reporting-MTA: dns; mr85p00im-ztdg06011801.me.com\nX-Postfix-Queue-ID: 4Yb7Kp1zq3z9s1",
       f"Final-Recipient: rfc822; {r}\nOriginal-Recipient: rfc822;{r}\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx01.mail.icloud.com\nDiagnostic-Code: smtp; 550 5.1.1 <{r}>: user does not exist",
       orig_headers(m, r), returned_type="text/rfc822-headers", source="written after iCloud Mail's Postfix-based DSN", failed=[r], m=m)
m = mid(); r = "vip@groupwise18-customer.example"
textbounce("groupwise-18-text", "Mail Administrator <postmaster@groupwise18-customer.example>", "Mail System Error - Returned Mail",
 f"This message was undeliverable due to the following reason:\n\nThe following destination addresses were unknown (please check\nthe addresses and re-mail the message):\n\nSMTP <{r}>\n\nPlease reply to Postmaster@groupwise18-customer.example\nif you feel this message to be in error.\n\n", r, m,
 "written after GroupWise's 'Mail System Error - Returned Mail' notice (SMTP <...> line)")
m = mid(); r = "list-owner-test@lists.fresh-campus.example"
textbounce("mailman-3-rejected", "\"Mailing list\" <it-news-owner@lists.fresh-campus.example>", "Message rejected by filter rule match",
 f"Your message to the it-news mailing-list was rejected for the following\nreasons:\n\nThe message is not from a list member\n\nThe original message as received by Mailman is attached.\n\n", r, m,
 "written after GNU Mailman 3's rejection notice to a non-member (bounce-like refusal of our post; labelled bounce: our mail was not delivered)")
json.dump(LAB, open("/tmp/bgen/hb2.json", "w"), indent=1, ensure_ascii=False)
print(len(LAB))
